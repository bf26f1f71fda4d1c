/**
 * Bare `ws` for `npm run bench -- chaos`: what an application writes by hand. `{"sub":[…]}`
 * joins rooms (answered `{"ok":"sub"}`), `{"pub":room,"id":…,"data":…}` is sent to the room's
 * sockets and answered `{"ack":id}`; no heartbeat, no history, no recovery. On two nodes a
 * Redis channel relays publications between them (CHAOS_REDIS or CHAOS_SENTINELS, see
 * chaos-redis.ts). CHAOS_PORT, CHAOS_HOST; `GET /healthz` answers once listening.
 */
import { createServer } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { Redis } from 'ioredis';
import { redisOptions } from './chaos-redis.ts';

const rooms = new Map<string, Set<WebSocket>>();
const http = createServer((req, res) => { res.writeHead(req.url === '/healthz' ? 200 : 404).end(); });
const wss = new WebSocketServer({ server: http });

function fanOut(room: string, text: string): void {
  for (const c of rooms.get(room) ?? []) c.send(text);
}

const opts = redisOptions();
const pub = opts ? new Redis(opts) : undefined;
if (opts) {
  const sub = new Redis(opts);
  sub.on('error', () => {});
  pub!.on('error', () => {});
  void sub.subscribe('chaos');
  sub.on('message', (_ch: string, msg: string) => {
    const { room, text } = JSON.parse(msg) as { room: string; text: string };
    fanOut(room, text);
  });
}

wss.on('connection', (ws) => {
  const mine: string[] = [];
  ws.on('error', () => {});
  ws.on('message', (raw) => {
    const m = JSON.parse(raw.toString()) as { sub?: string[]; pub?: string; id?: string; data?: unknown };
    if (m.sub) {
      for (const r of m.sub) {
        let set = rooms.get(r);
        if (!set) rooms.set(r, (set = new Set()));
        set.add(ws);
        mine.push(r);
      }
      ws.send('{"ok":"sub"}');
    } else if (m.pub) {
      const text = JSON.stringify(m.data);
      const ack = () => ws.send(JSON.stringify({ ack: m.id }));
      if (pub) pub.publish('chaos', JSON.stringify({ room: m.pub, text })).then(ack, () => {});
      else { fanOut(m.pub, text); ack(); }
    }
  });
  ws.on('close', () => {
    for (const r of mine) rooms.get(r)?.delete(ws);
  });
});
http.listen(Number(process.env.CHAOS_PORT), process.env.CHAOS_HOST ?? '127.0.0.1');
process.on('SIGTERM', () => {
  for (const c of wss.clients) c.terminate();
  http.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 5000).unref();
});
