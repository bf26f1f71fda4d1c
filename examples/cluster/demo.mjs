// Cross-node delivery and recovery, with nothing but WebSocket and JSON (Node 22+).
// Run ./run.sh first (three nodes on 8081-8083), then: npx node examples/cluster/demo.mjs
const [A, B, C] = (process.env.NODES ?? 'ws://127.0.0.1:8081/ws,ws://127.0.0.1:8082/ws,ws://127.0.0.1:8083/ws').split(',');
const channel = `chat:demo-${Date.now()}`;

/** Opens a socket, authenticates anonymously (--dev) and returns a tiny request/receive API. */
function open(url, name) {
  const ws = new WebSocket(url);
  const frames = [];
  const waiters = [];
  let id = 0;
  ws.onmessage = (e) => {
    const f = JSON.parse(e.data);
    if (f.type === 'ping') return ws.send('{"type":"pong"}');
    frames.push(f);
    for (const w of waiters.splice(0)) w();
  };
  const next = (pred) => new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out on ${url}`)), 10_000);
    const check = () => {
      const hit = frames.find(pred);
      if (hit) { clearTimeout(timer); resolve(hit); } else waiters.push(check);
    };
    check();
  });
  const request = (frame) => {
    const rid = `${name}-${++id}`;
    ws.send(JSON.stringify({ ...frame, id: rid }));
    return next((f) => f.id === rid);
  };
  const ready = new Promise((resolve, reject) => {
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', name }));
    ws.onerror = () => reject(new Error(`cannot reach ${url}: is ./run.sh running?`));
    next((f) => f.type === 'auth_success').then(resolve, reject);
  });
  return ready.then(() => ({ ws, frames, next, request }));
}

const alice = await open(A, 'alice');
const bob = await open(B, 'bob');
const sub = await bob.request({ type: 'subscribe', channel });
console.log(`bob subscribed on ${B} at ${sub.epoch}/${sub.offset}`);
await alice.request({ type: 'publish', channel, data: { text: 'hello from node A' } });
const live = await bob.next((f) => f.type === 'message');
console.log(`bob got on ${B}: ${JSON.stringify(live.data)} (offset ${live.offset}), published on ${A}`);

bob.ws.close();
for (const text of ['while you were away (1)', 'while you were away (2)']) await alice.request({ type: 'publish', channel, data: { text } });
const bob2 = await open(C, 'bob');
const rec = await bob2.request({ type: 'subscribe', channel, since: { epoch: live.epoch, offset: live.offset } });
console.log(`bob reconnected to ${C}: recovered=${rec.recovered}, missed: ${rec.publications.map((p) => JSON.stringify(p.data.text)).join(', ')}`);
alice.ws.close();
bob2.ws.close();
