/**
 * `npm run example:vue`: the Vue example on http://127.0.0.1:3003 (`VUE_EXAMPLE_PORT`), beside
 * a running gateway (`npm start`). Environment: `SWITCHBOARD_JWT_SECRET` (the gateway's
 * secret; default: the one `npm start` keeps in data/dev-secrets.json, or
 * `SWITCHBOARD_DEV_SECRETS`), `SWITCHBOARD_PORT` (the gateway's port, default 8080) or
 * `VUE_GATEWAY_URL` (its full WebSocket URL).
 */
import { readDevSecrets } from '../../../packages/server/src/dev-secrets.ts';
import { startVueExample } from './server.ts';

const env = process.env;
let secret = env.SWITCHBOARD_JWT_SECRET;
if (!secret) {
  try {
    secret = readDevSecrets().jwtSecret;
  } catch (err) {
    console.error(`vue example: ${(err as Error).message}`);
    process.exit(2);
  }
}
const gatewayUrl = env.VUE_GATEWAY_URL ?? `ws://127.0.0.1:${env.SWITCHBOARD_PORT ?? 8080}/ws`;
const server = await startVueExample({ secret, gatewayUrl, port: Number(env.VUE_EXAMPLE_PORT ?? 3003) });
console.log(`Vue example on ${server.url}   (gateway ${gatewayUrl}; open it in two browsers)`);
if (process.send) process.send({ type: 'listening', url: server.url });
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void server.close().then(() => process.exit(0)));
