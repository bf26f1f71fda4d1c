// Entry point: the provider owns one client; strict mode is on, as it should be in development.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { SwitchboardProvider } from '@switchboard/react';
import { Room } from './app.tsx';

const params = new URLSearchParams(location.search);
// `npm start`'s gateway (dev mode) lets anyone in by name; a real app passes `token` instead.
const me = params.get('user') ?? `guest-${Math.random().toString(36).slice(2, 6)}`;
const gateway = params.get('gateway') ?? `ws://${location.hostname}:8080/ws`;
const channel = params.get('channel') ?? 'chat:lobby';

createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <SwitchboardProvider url={gateway} options={{ name: me }}>
      <Room channel={channel} me={me} />
    </SwitchboardProvider>
  </StrictMode>,
);
