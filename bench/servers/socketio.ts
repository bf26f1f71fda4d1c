/** Socket.IO 4 under test, default server settings; rooms joined by `sub`, `pub` broadcast to a room. */
import { createServer } from 'node:http';
import { Server } from 'socket.io';
import { jwtVerify } from 'jose';
import { serveControl, settings } from './control.ts';

const key = new TextEncoder().encode(settings.secret);
const http = createServer();
const io = new Server(http);
io.use((socket, next) => {
  jwtVerify(String(socket.handshake.auth.token), key).then(
    (r) => { socket.data.user = r.payload.sub; next(); },
    () => next(new Error('unauthorized')),
  );
});
io.on('connection', (socket) => {
  socket.on('sub', (channels: string[], ack?: () => void) => {
    void socket.join(channels);
    ack?.();
  });
  socket.on('pub', (channel: string, data: unknown) => {
    io.to(channel).emit('m', data);
  });
});
await new Promise<void>((r) => http.listen(settings.port, '127.0.0.1', r));
const stop = () => new Promise<void>((r) => { io.close(() => r()); });
process.on('SIGTERM', () => void stop().finally(() => process.exit(0)));
serveControl((http.address() as { port: number }).port, stop);
