/** @jsxImportSource preact */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import { api, HttpError, whenLoggedOut } from './api.ts';
import { OverviewPage } from './overview.tsx';
import { NodesPage } from './nodes.tsx';
import { ChannelsPage } from './channels.tsx';
import { UsersPage } from './users.tsx';
import { LivePage } from './live.tsx';

const PAGES = [
  { hash: '#/overview', label: 'Overview', page: OverviewPage },
  { hash: '#/nodes', label: 'Nodes', page: NodesPage },
  { hash: '#/channels', label: 'Channels', page: ChannelsPage },
  { hash: '#/users', label: 'Users', page: UsersPage },
  { hash: '#/live', label: 'Live', page: LivePage },
];

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/overview');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/overview');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function Login({ onIn }: { onIn(): void }) {
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await api.login(password);
      onIn();
    } catch (err) {
      setError(err instanceof HttpError && err.status === 401 ? 'Wrong password.' : (err as Error).message);
      setBusy(false);
    }
  };
  return (
    <main class="login">
      <form onSubmit={submit} aria-describedby={error ? 'login-error' : undefined}>
        <h1>Switchboard admin</h1>
        <label for="password">Admin password</label>
        <input id="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
        <button type="submit" disabled={busy}>Log in</button>
        <p id="login-error" role="alert" class="error">{error ?? ''}</p>
      </form>
    </main>
  );
}

function Shell({ onOut }: { onOut(): void }) {
  const hash = useHash();
  const current = PAGES.find((p) => p.hash === hash) ?? PAGES[0]!;
  const Page = current.page;
  useEffect(() => {
    document.title = `${current.label} · Switchboard admin`;
  }, [current.label]);
  const logout = async () => {
    await api.logout().catch(() => {});
    onOut();
  };
  return (
    <>
      <header class="top">
        <span class="brand">Switchboard admin</span>
        <nav aria-label="Admin sections">
          <ul>
            {PAGES.map((p) => <li key={p.hash}><a href={p.hash} aria-current={p === current ? 'page' : undefined}>{p.label}</a></li>)}
          </ul>
        </nav>
        <button type="button" class="secondary" onClick={logout}>Log out</button>
      </header>
      <main id="main"><Page /></main>
    </>
  );
}

function App() {
  const [state, setState] = useState<'checking' | 'in' | 'out'>('checking');
  useEffect(() => {
    whenLoggedOut(() => setState('out'));
    api.session().then(() => setState('in'), () => setState('out'));
  }, []);
  if (state === 'checking') return <p class="boot">Loading…</p>;
  if (state === 'out') return <Login onIn={() => setState('in')} />;
  return <Shell onOut={() => setState('out')} />;
}

render(<App />, document.getElementById('app')!);
