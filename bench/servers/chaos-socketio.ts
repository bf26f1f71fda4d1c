/**
 * Socket.IO 4 for `npm run bench -- chaos`: connection-state recovery on (its default
 * 2-minute window), `sub` joins rooms, `pub` broadcasts to a room and acknowledges; on two
 * nodes the Redis adapter (`@socket.io/redis-adapter`) joins them. Configured by the
 * environment: CHAOS_PORT, CHAOS_HOST, CHAOS_REDIS (`redis://host:port`) or
 * CHAOS_SENTINELS (`host:port,…`) with CHAOS_MASTER. `GET /healthz` answers once listening.
 */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { redisOptions } from './chaos-redis.ts';

const http = createServer((req, res) => {
  if (req.url === '/healthz') { res.writeHead(200).end('ok'); return; }
  // Everything else is Socket.IO's (it answers its own path before this handler).
});
const io = new Server(http, {
  connectionStateRecovery: { maxDisconnectionDuration: 2 * 60_000, skipMiddlewares: true },
});
const opts = redisOptions();
if (opts) {
  const pub = new Redis(opts);
  const sub = pub.duplicate();
  pub.on('error', () => {});
  sub.on('error', () => {});
  io.adapter(createAdapter(pub, sub));
}
io.on('connection', (socket) => {
  socket.on('sub', (rooms: string[], ack?: () => void) => {
    void socket.join(rooms);
    if (typeof ack === 'function') ack();
  });
  socket.on('pub', (room: string, data: unknown, ack?: () => void) => {
    io.to(room).emit('m', data);
    if (typeof ack === 'function') ack();
  });
});
http.listen(Number(process.env.CHAOS_PORT), process.env.CHAOS_HOST ?? '127.0.0.1');
process.on('SIGTERM', () => { io.close(() => process.exit(0)); setTimeout(() => process.exit(0), 5000).unref(); });
