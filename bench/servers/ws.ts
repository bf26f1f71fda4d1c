/**
 * The bare `ws` peer: the naive Node ceiling. Token checked at upgrade, `{"sub":[…]}`
 * subscribes, `{"pub":channel,"data":…}` is serialized once and `send` in a loop over the
 * channel's clients. No batching, no heartbeat, no recovery.
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { jwtVerify } from 'jose';
import { serveControl, settings } from './control.ts';

const key = new TextEncoder().encode(settings.secret);
const channels = new Map<string, Set<WebSocket>>();
const http = createServer();
const wss = new WebSocketServer({ noServer: true, clientTracking: true });

http.on('upgrade', (req, socket, head) => {
  socket.on('error', () => socket.destroy());
  const token = new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '';
  jwtVerify(token, key).then(
    () => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req)),
    () => { socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n'); socket.destroy(); },
  );
});

wss.on('connection', (ws: WebSocket) => {
  const mine: string[] = [];
  ws.on('message', (raw) => {
    const m = JSON.parse(raw.toString());
    if (m.sub) {
      for (const ch of m.sub as string[]) {
        let set = channels.get(ch);
        if (!set) channels.set(ch, (set = new Set()));
        set.add(ws);
        mine.push(ch);
      }
      ws.send('{"ok":1}');
    } else if (m.pub) {
      const set = channels.get(m.pub);
      if (!set) return;
      const text = JSON.stringify(m.data);
      for (const c of set) c.send(text);
    }
  });
  ws.on('close', () => {
    for (const ch of mine) {
      const set = channels.get(ch)!;
      set.delete(ws);
      if (set.size === 0) channels.delete(ch);
    }
  });
});

await new Promise<void>((r) => http.listen(settings.port, '127.0.0.1', r));
const stop = () => new Promise<void>((r) => {
  for (const c of wss.clients) c.terminate();
  wss.close();
  http.close(() => r());
});
process.on('SIGTERM', () => void stop().finally(() => process.exit(0)));
serveControl((http.address() as { port: number }).port, stop);
