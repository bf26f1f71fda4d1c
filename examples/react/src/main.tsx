// Entry point: the provider owns one client; strict mode is on, as it should be in development.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { SwitchboardProvider } from '@switchboard/react';
import { Room } from './app.tsx';

const params = new URLSearchParams(location.search);
// `npm start`'s gateway (dev mode) lets anyone in by name; a real app passes `token` instead.
const me = params.get('user') ?? `guest-${Math.random().toString(36).slice(2, 6)}`;
// The gateway: `?gateway=ws://…/ws`, else what the example's server wrote into the page
// (REACT_GATEWAY_URL or SWITCHBOARD_PORT), else port 8080 of this page's host.
const fromServer = document.querySelector<HTMLMetaElement>('meta[name="switchboard-gateway"]')?.content;
const gateway = params.get('gateway') ?? (fromServer || `ws://${location.hostname}:8080/ws`);
const channel = params.get('channel') ?? 'chat:lobby';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <SwitchboardProvider url={gateway} options={{ name: me }}>
      <Room channel={channel} me={me} />
    </SwitchboardProvider>
  </StrictMode>,
);
