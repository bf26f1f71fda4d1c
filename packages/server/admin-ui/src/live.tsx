/** @jsxImportSource preact */
import { useRef, useState } from 'preact/hooks';
import { api, type ConnectionEvent } from './api.ts';
import { usePoll } from './hooks.ts';
import { time } from './format.ts';

/** Events kept on the page (the oldest fall off). */
const KEEP = 100;

const WHAT: Record<ConnectionEvent['kind'], string> = {
  joined: 'joined', left: 'left', refused: 'refused', closed: 'closed before authenticating',
};

/**
 * Connection events of every node as they happen (joined, left, refused with its code,
 * closed), newest first, the last 100. Asked every second while the page is visible; a
 * hidden tab asks nothing.
 */
export function LivePage() {
  const [events, setEvents] = useState<ConnectionEvent[]>([]);
  const last = useRef(0);
  const { value, error } = usePoll(async () => {
    // A millisecond back: events of the same millisecond on another node are not missed (kept once, by node and seq).
    const r = await api.events(last.current > 0 ? last.current - 1 : 0);
    if (r.events.length > 0) {
      last.current = Math.max(last.current, r.events[r.events.length - 1]!.t);
      setEvents((prev) => {
        const seen = new Set(prev.map((e) => `${e.node}:${e.seq}`));
        return [...prev, ...r.events.filter((e) => !seen.has(`${e.node}:${e.seq}`))].slice(-KEEP);
      });
    }
    return r;
  }, 1000);
  return (
    <section>
      <h1>Live</h1>
      <p class="note">Connection events on every node as they happen, newest first (the last {KEEP}). Paused while this tab is hidden.</p>
      {error && <p role="alert" class="error">{error}</p>}
      {value && value.missing.length > 0 && <p class="error">No answer in time from node(s) {value.missing.join(', ')}.</p>}
      <table id="live-events">
        <thead><tr><th>Time</th><th>Event</th><th>User</th><th>Code</th><th>Transport</th><th>Client</th><th>Node</th></tr></thead>
        <tbody>
          {events.slice().reverse().map((e) => (
            <tr key={`${e.node}:${e.seq}`} class={`event-${e.kind}`}>
              <td>{time(e.t)}</td>
              <td>{WHAT[e.kind]}</td>
              <td>{e.user ?? '–'}</td>
              <td>{e.code !== undefined ? `${e.code} ${e.reason ?? ''}`.trim() : ''}</td>
              <td>{e.transport}</td>
              <td><code>{e.client}</code></td>
              <td>{e.node}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {events.length === 0 && <p class="note">Nothing yet: connect a client.</p>}
    </section>
  );
}
