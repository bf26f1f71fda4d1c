/**
 * `npm run example:nextjs`: the Next.js example on http://127.0.0.1:3004 (`NEXT_EXAMPLE_PORT`),
 * beside a running gateway (`npm start`). Environment: `SWITCHBOARD_JWT_SECRET` (the gateway's
 * secret; default: the one `npm start` keeps in data/dev-secrets.json, or
 * `SWITCHBOARD_DEV_SECRETS`), `SWITCHBOARD_PORT` (the gateway's port, default 8080) or
 * `NEXT_PUBLIC_SWITCHBOARD_URL` (its full WebSocket URL).
 */
import { readDevSecrets } from '../../../packages/server/src/dev-secrets.ts';
import { startNextExample } from './next-dev.ts';

const env = process.env;
let secret = env.SWITCHBOARD_JWT_SECRET;
if (!secret) {
  try {
    secret = readDevSecrets().jwtSecret;
  } catch (err) {
    console.error(`next.js example: ${(err as Error).message}`);
    process.exit(2);
  }
}
const gatewayUrl = env.NEXT_PUBLIC_SWITCHBOARD_URL ?? `ws://127.0.0.1:${env.SWITCHBOARD_PORT ?? 8080}/ws`;
const server = await startNextExample({ secret, gatewayUrl, port: Number(env.NEXT_EXAMPLE_PORT ?? 3004), onLog: (line) => console.log(line) });
console.log(`Next.js example on ${server.url}   (gateway ${gatewayUrl}; the first load compiles the page)`);
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void server.close().then(() => process.exit(0)));
