/** @jsxImportSource preact */
import { useState } from 'preact/hooks';
import { api, type ConnectionView } from './api.ts';
import { usePoll } from './hooks.ts';
import { duration } from './format.ts';
import { UserActions } from './user-actions.tsx';

/** Live connections across the cluster; look up one user and act on them. */
export function UsersPage() {
  const [draft, setDraft] = useState('');
  const [user, setUser] = useState('');
  const { value, error, reload } = usePoll(() => api.connections(user || undefined), 3000, [user]);
  return (
    <section>
      <h1>Users</h1>
      <form class="search" role="search" onSubmit={(e) => { e.preventDefault(); setUser(draft.trim()); }}>
        <label for="user-id">User id</label>
        <input id="user-id" value={draft} onInput={(e) => setDraft((e.target as HTMLInputElement).value)} placeholder="alice" autocomplete="off" />
        <button type="submit">Look up</button>
        {user && <button type="button" class="secondary" onClick={() => { setDraft(''); setUser(''); }}>Show everyone</button>}
      </form>
      {error && <p role="alert" class="error">{error}</p>}
      {user && <UserActions user={user} connections={value?.connections.length ?? 0} onDone={reload} />}
      {value && value.missing.length > 0 && <p class="error">No answer in time from node(s) {value.missing.join(', ')}: their connections are missing.</p>}
      <ConnectionTable title={user ? `Connections of ${user}` : 'Newest connections'} connections={value?.connections} onPick={(u) => { setDraft(u); setUser(u); }} />
    </section>
  );
}

function ConnectionTable({ title, connections, onPick }: { title: string; connections: ConnectionView[] | undefined; onPick(user: string): void }) {
  const now = Date.now();
  return (
    <div class="table-wrap">
      <table id="connections">
        <caption>{connections ? `${title}: ${connections.length}` : 'Loading…'}</caption>
        <thead>
          <tr><th scope="col">User</th><th scope="col">Node</th><th scope="col">Transport</th><th scope="col">IP</th><th scope="col">Connected</th><th scope="col">Channels</th></tr>
        </thead>
        <tbody>
          {connections?.map((c) => (
            <tr key={c.client} data-client={c.client}>
              <th scope="row"><button type="button" class="link" onClick={() => onPick(c.user)}>{c.user}</button>{c.anonymous && <small> (anonymous)</small>}</th>
              <td>{c.node}</td>
              <td>{c.transport}</td>
              <td>{c.ip}</td>
              <td title={new Date(c.since).toISOString()}>{duration(Math.max(0, now - c.since))} ago</td>
              <td class="channels">{c.channels.join(', ')}{c.channelCount > c.channels.length ? ` … (${c.channelCount} in all)` : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
