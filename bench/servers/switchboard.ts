/** Switchboard under test: `createServer` with memory storage, in its own process. */
import { createServer } from '../../packages/server/src/index.ts';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { serveControl, settings } from './control.ts';

const server = await createServer({
  options: {
    port: settings.port,
    host: '127.0.0.1',
    storage: 'memory',
    logLevel: 'warn',
    auth: { jwtSecret: settings.secret },
    heartbeat: { intervalMs: settings.heartbeatMs },
    // Peer `switchboard-deflate` (servers/switchboard-deflate.ts): permessage-deflate for the clients that offer it.
    compression: { permessageDeflate: process.env.BENCH_DEFLATE === '1', threshold: 256 },
    // No history except in `hist` (history-flood): the peers keep none either.
    namespaces: {
      bench: { allowSubscribe: true, allowPublish: true },
      u: { allowSubscribe: true, allowPublish: true },
      g: { allowSubscribe: true, allowPublish: true },
      // `npm run bench -- delta`: delta compression for the subscribers that ask for it.
      doc: { allowSubscribe: true, allowPublish: true, delta: 'fossil' },
      // `npm run bench -- history-flood`: the only namespace with history.
      hist: { allowSubscribe: true, allowPublish: true, history: { size: 1000, ttl: '1h' } },
    },
    // The load generator is one user on a few addresses publishing as fast as it can.
    // history-flood `--max-replay`: the bytes of one history reply (default: the gateway's).
    limits: { commandsPerSecond: 1_000_000, connectionsPerIpPerSecond: 1_000_000, ...(process.env.BENCH_MAX_REPLAY ? { maxReplayBytes: Number(process.env.BENCH_MAX_REPLAY) } : {}) },
    // Peer `switchboard-pusher` (servers/switchboard-pusher.ts): a Pusher app on the `bench` namespace.
    ...(process.env.BENCH_PUSHER === '1' ? { pusher: { apps: [{ id: 'bench', key: 'bench-key', secret: 'bench-secret-0123456789', namespace: 'bench' }] } } : {}),
    // Clients come back within 0.5–1.5 s after a restart, as Socket.IO's default reconnection does.
    shutdown: { reconnectSpreadMs: 1500 },
  },
});
const addr = await server.listen();
const stop = () => server.close();
process.on('SIGTERM', () => void stop().finally(() => process.exit(0)));
// The event loop's delay (ms) since the last `eventLoop` call with `reset` (history-flood).
const loop = monitorEventLoopDelay({ resolution: 5 });
loop.enable();
serveControl(addr.port, stop, {
  stats: () => server.node.hub.stats,
  eventLoop: (m: { reset?: boolean }) => {
    const ms = (ns: number) => Math.round(ns / 1e4) / 100;
    const r = { p50: ms(loop.percentile(50)), p99: ms(loop.percentile(99)), max: ms(loop.max) };
    if (m.reset) loop.reset();
    return r;
  },
});
