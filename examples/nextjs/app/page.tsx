'use client';
/**
 * The page: a client component (the socket is opened in the browser only, never while the
 * server renders). It fetches a token from the app's own route (`/api/token`), connects to
 * the gateway and shows what is published on `news:ticker`.
 *
 * The gateway's URL: `?gateway=` in the page's query, else `NEXT_PUBLIC_SWITCHBOARD_URL` (read
 * when Next compiles the page), else `ws://127.0.0.1:8080/ws` (`npm start`).
 */
import { useEffect, useState } from 'react';
import { SwitchboardProvider, useConnectionState, useSubscription } from '@switchboard/react';

const CHANNEL = 'news:ticker';

interface News {
  text: string;
}

function Ticker() {
  const state = useConnectionState();
  const { state: subscription, messages } = useSubscription<News>(CHANNEL);
  return (
    <>
      <p>
        Connection: <span id="connection">{state}</span> · {CHANNEL}: <span id="subscription">{subscription}</span>
      </p>
      <ul id="messages">
        {messages.map((m, i) => (
          <li key={m.offset ?? `${m.ts}:${i}`}>{m.data.text}</li>
        ))}
      </ul>
    </>
  );
}

export default function Page() {
  // Read in the browser, after the first render: the server renders "connecting…".
  const [where, setWhere] = useState<{ url: string; user: string } | null>(null);
  useEffect(() => {
    const query = new URLSearchParams(window.location.search);
    const url = query.get('gateway') ?? process.env.NEXT_PUBLIC_SWITCHBOARD_URL ?? 'ws://127.0.0.1:8080/ws';
    setWhere({ url, user: query.get('user') ?? 'reader' });
  }, []);
  return (
    <main>
      <h1>News ticker</h1>
      {where ? (
        <SwitchboardProvider
          url={where.url}
          options={{
            // called again before the token expires
            token: async () => {
              const r = await fetch(`/api/token?user=${encodeURIComponent(where.user)}`, { cache: 'no-store' });
              if (!r.ok) throw new Error(`token route: ${r.status}`);
              return ((await r.json()) as { token: string }).token;
            },
          }}
        >
          <Ticker />
        </SwitchboardProvider>
      ) : (
        <p>connecting…</p>
      )}
    </main>
  );
}
