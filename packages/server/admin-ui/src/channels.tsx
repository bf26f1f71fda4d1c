/** @jsxImportSource preact */
import { useState } from 'preact/hooks';
import { api } from './api.ts';
import { usePoll } from './hooks.ts';
import { num, preview, time } from './format.ts';

/** Channels with subscribers (searchable by pattern), and the detail of one. */
export function ChannelsPage() {
  const [draft, setDraft] = useState('*');
  const [pattern, setPattern] = useState('*');
  const [selected, setSelected] = useState<string | undefined>(undefined);
  const { value, error } = usePoll(() => api.channels(pattern), 3000, [pattern]);
  return (
    <section>
      <h1>Channels</h1>
      <form class="search" role="search" onSubmit={(e) => { e.preventDefault(); setPattern(draft.trim() || '*'); }}>
        <label for="channel-pattern">Channel pattern</label>
        <input id="channel-pattern" value={draft} onInput={(e) => setDraft((e.target as HTMLInputElement).value)} placeholder="chat:*" aria-describedby="pattern-help" />
        <button type="submit">Search</button>
        <small id="pattern-help">* matches any run of characters, e.g. chat:*</small>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
      <div class="split">
        <div class="table-wrap">
          <table id="channels">
            <caption>{value ? `${value.total} channel${value.total === 1 ? '' : 's'} with subscribers${value.total > value.channels.length ? ` (first ${value.channels.length} shown)` : ''}` : 'Loading…'}</caption>
            <thead><tr><th scope="col">Channel</th><th scope="col">Subscribers</th></tr></thead>
            <tbody>
              {value?.channels.map((c) => (
                <tr key={c.channel} class={c.channel === selected ? 'selected' : ''}>
                  <th scope="row"><button type="button" class="link" onClick={() => setSelected(c.channel)} aria-pressed={c.channel === selected}>{c.channel}</button></th>
                  <td class="num">{num(c.subscribers)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {selected && <ChannelDetail name={selected} />}
      </div>
    </section>
  );
}

function ChannelDetail({ name }: { name: string }) {
  const { value, error, reload } = usePoll(() => api.channel(name), 3000, [name]);
  const [data, setData] = useState('{"text": "hello from the admin"}');
  const [status, setStatus] = useState<{ ok: boolean; text: string } | undefined>(undefined);
  const publish = async (e: Event) => {
    e.preventDefault();
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      setStatus({ ok: false, text: 'The message must be JSON, e.g. {"text": "hi"} or "hi".' });
      return;
    }
    try {
      const r = await api.publish(name, parsed);
      setStatus({ ok: true, text: r.offset !== undefined ? `Published at offset ${r.offset}.` : 'Published.' });
      reload();
    } catch (err) {
      setStatus({ ok: false, text: (err as Error).message });
    }
  };
  return (
    <article class="detail" aria-labelledby="channel-title">
      <h2 id="channel-title">{name}</h2>
      {error && <p role="alert" class="error">{error}</p>}
      {value && (
        <>
          <p id="channel-subscribers">{num(value.subscribers)} subscriber{value.subscribers === 1 ? '' : 's'}</p>
          <h3>Presence</h3>
          {'error' in value.presence ? <p class="note">{value.presence.error}</p> : value.presence.users.length === 0 ? <p class="note">Nobody present.</p> : (
            <ul id="channel-presence">{value.presence.users.map((u) => <li key={u.user}>{u.user} <small>({u.connections} connection{u.connections === 1 ? '' : 's'})</small>{u.info !== undefined ? <> <code class="presence-info">{JSON.stringify(u.info).slice(0, 200)}</code></> : null}</li>)}</ul>
          )}
          <h3>Recent history</h3>
          {'error' in value.history ? <p class="note">{value.history.error}</p> : value.history.publications.length === 0 ? <p class="note">No publications retained.</p> : (
            <div class="table-wrap">
              <table id="channel-history">
                <thead><tr><th scope="col">Offset</th><th scope="col">Time</th><th scope="col">From</th><th scope="col">Data</th></tr></thead>
                <tbody>
                  {value.history.publications.map((p) => (
                    <tr key={`${p.epoch}:${p.offset}`}><td class="num">{p.offset}</td><td>{time(p.ts)}</td><td>{p.from ?? '(server)'}</td><td><code>{preview(p.data)}</code></td></tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
      <form class="publish" onSubmit={publish}>
        <h3><label for="publish-data">Publish a message (JSON)</label></h3>
        <textarea id="publish-data" rows={3} value={data} onInput={(e) => setData((e.target as HTMLTextAreaElement).value)} />
        <button type="submit">Publish to {name}</button>
        <p role="status" class={status ? (status.ok ? 'ok' : 'error') : ''}>{status?.text ?? ''}</p>
      </form>
    </article>
  );
}
