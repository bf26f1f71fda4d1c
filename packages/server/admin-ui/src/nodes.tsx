/** @jsxImportSource preact */
import { api } from './api.ts';
import { usePoll } from './hooks.ts';
import { bytes, duration, num, time } from './format.ts';

/** Every live node: version, uptime, load, memory, CPU and whether its broker and stores answer. */
export function NodesPage() {
  const { value, error } = usePoll(() => api.overview(), 2000);
  return (
    <section>
      <h1>Nodes</h1>
      {error && <p role="alert" class="error">{error}</p>}
      {!value ? <p>Loading…</p> : (
        <div class="table-wrap">
          <table id="nodes">
            <thead>
              <tr>
                <th scope="col">Node</th><th scope="col">Version</th><th scope="col">Uptime</th><th scope="col">Connections</th>
                <th scope="col">Users</th><th scope="col">Subscriptions</th><th scope="col">Memory (RSS)</th><th scope="col">Heap</th>
                <th scope="col">CPU</th><th scope="col">Broker</th><th scope="col">Status</th><th scope="col">Last report</th>
              </tr>
            </thead>
            <tbody>
              {value.nodes.map(({ node, samples }) => {
                const s = samples[samples.length - 1];
                return (
                  <tr key={node.id} data-node={node.id}>
                    <th scope="row">{node.name}<br /><small>{node.id} · pid {node.pid}</small></th>
                    <td>{node.version}</td>
                    <td>{duration(value.now - node.startedAt)}</td>
                    <td class="num">{s ? num(s.connections) : '–'}</td>
                    <td class="num">{s ? num(s.users) : '–'}</td>
                    <td class="num">{s ? num(s.subscriptions) : '–'}</td>
                    <td class="num">{s ? bytes(s.rss) : '–'}</td>
                    <td class="num">{s ? bytes(s.heapUsed) : '–'}</td>
                    <td class="num">{s ? `${s.cpu.toFixed(1)} %` : '–'}</td>
                    <td>{node.broker}</td>
                    <td><span class={node.status === 'ok' ? 'ok' : 'bad'}>{node.status}</span></td>
                    <td>{time(node.seenAt)}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
