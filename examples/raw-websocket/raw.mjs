// The README's raw-WebSocket example: no SDK, just JSON. Run the gateway with `npm start`, then `node raw.mjs`.
const ws = new WebSocket(process.env.SWITCHBOARD_WS ?? 'ws://127.0.0.1:8080/ws');
ws.onopen = () => {
  ws.send(JSON.stringify({ type: 'auth', name: 'raw-example' })); // --dev allows anonymous users
  ws.send(JSON.stringify({ type: 'subscribe', id: 1, channel: 'chat:lobby' }));
  ws.send(JSON.stringify({ type: 'publish', id: 2, channel: 'chat:lobby', data: { text: 'hello' } }));
};
ws.onmessage = (e) => {
  const frame = JSON.parse(e.data);
  if (frame.type === 'ping') ws.send(JSON.stringify({ type: 'pong' })); // heartbeat
  console.log(JSON.stringify(frame));
};
