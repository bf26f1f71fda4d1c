/**
 * `npm run example:react`: builds the example and serves it on http://127.0.0.1:3001
 * (`REACT_EXAMPLE_PORT`). With `npm start` running, open it (add `?user=you`); the page talks to
 * the gateway at `REACT_GATEWAY_URL`, else `ws://127.0.0.1:$SWITCHBOARD_PORT/ws` (port 8080 by
 * default, as `npm start`'s), written into the page; `?gateway=ws://…/ws` overrides it.
 */
import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildExample } from './build.ts';

const dist = fileURLToPath(new URL('../dist/', import.meta.url));
await buildExample(dist);
// The gateway's URL from the environment, into the page (main.tsx reads the meta tag).
const gatewayUrl = process.env.REACT_GATEWAY_URL ?? `ws://127.0.0.1:${process.env.SWITCHBOARD_PORT ?? 8080}/ws`;
const escape = (s: string) => s.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
const page = async () => (await readFile(join(dist, 'index.html'), 'utf8')).replace('<meta name="switchboard-gateway" content="">', `<meta name="switchboard-gateway" content="${escape(gatewayUrl)}">`);
const TYPES = new Map([['/', 'index.html'], ['/index.html', 'index.html'], ['/app.js', 'app.js'], ['/app.js.map', 'app.js.map']]);
const server = createServer(async (req, res) => {
  const file = TYPES.get((req.url ?? '/').split('?')[0]!);
  if (!file) return void res.writeHead(404).end('not found');
  const type = file.endsWith('.html') ? 'text/html; charset=utf-8' : file.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'application/json';
  res.writeHead(200, { 'content-type': type, 'cache-control': 'no-cache' }).end(file === 'index.html' ? await page() : await readFile(join(dist, file)));
});
const port = Number(process.env.REACT_EXAMPLE_PORT ?? 3001);
server.listen(port, '127.0.0.1', () => {
  const { port: actual } = server.address() as { port: number };
  console.log(`React example on http://127.0.0.1:${actual}/?user=you   (gateway ${gatewayUrl})`);
  if (process.send) process.send({ type: 'listening', url: `http://127.0.0.1:${actual}` });
});
process.on('SIGINT', () => server.close(() => process.exit(0)));
process.on('SIGTERM', () => server.close(() => process.exit(0)));
