/** Switchboard under test: `createServer` with memory storage, in its own process. */
import { createServer } from '../../packages/server/src/index.ts';
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
    // No history anywhere: the peers keep none either.
    namespaces: {
      bench: { allowSubscribe: true, allowPublish: true },
      u: { allowSubscribe: true, allowPublish: true },
      g: { allowSubscribe: true, allowPublish: true },
    },
    // The load generator is one user on a few addresses publishing as fast as it can.
    limits: { commandsPerSecond: 1_000_000, connectionsPerIpPerSecond: 1_000_000 },
    // Clients come back within 0.5–1.5 s after a restart, as Socket.IO's default reconnection does.
    shutdown: { reconnectSpreadMs: 1500 },
  },
});
const addr = await server.listen();
const stop = () => server.close();
process.on('SIGTERM', () => void stop().finally(() => process.exit(0)));
serveControl(addr.port, stop, { stats: () => server.node.hub.stats });
