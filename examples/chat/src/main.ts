/**
 * Runs the chat example's companion server (`npm start` starts it beside the gateway).
 *
 * Environment: `SWITCHBOARD_JWT_SECRET` (required: the gateway's secret), `CHAT_PORT`
 * (default 3000), `CHAT_HOST` (default 127.0.0.1), `SWITCHBOARD_PORT` (the gateway's port,
 * default 8080), `CHAT_USERS_FILE` (where the People list is kept, default
 * data/chat-users.json), `CHAT_GATEWAY_URL` (the gateway's WebSocket URL when the browser reaches it
 * elsewhere), `CHAT_TOKEN_TTL` (gateway token lifetime in seconds, default 300),
 * `CHAT_SDK_DIR` (the SDK's built `dist/`, default packages/client/dist).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startChatServer } from './chat-server.ts';

const env = process.env;
const secret = env.SWITCHBOARD_JWT_SECRET;
if (!secret) {
  console.error('chat: SWITCHBOARD_JWT_SECRET is not set (the gateway\'s secret). Run `npm start` from the repository root.');
  process.exit(2);
}
const sdkDir = env.CHAT_SDK_DIR ?? fileURLToPath(new URL('../../../packages/client/dist/', import.meta.url));
if (!existsSync(join(sdkDir, 'switchboard.mjs'))) {
  console.error(`chat: no SDK bundle in ${sdkDir}: run \`npm run build -w packages/client\` (npm start does it for you)`);
  process.exit(2);
}
const number = (name: string, fallback: number) => {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) {
    console.error(`chat: ${name} must be a whole number (got ${JSON.stringify(v)})`);
    process.exit(2);
  }
  return n;
};

const host = env.CHAT_HOST || '127.0.0.1';
const port0 = number('CHAT_PORT', 3000);
const server = await startChatServer({
  secret,
  sdkDir,
  host,
  port: port0,
  gatewayPort: number('SWITCHBOARD_PORT', 8080),
  tokenTtlSec: number('CHAT_TOKEN_TTL', 300),
  // The People list survives a restart (data/ is git-ignored).
  usersFile: env.CHAT_USERS_FILE || 'data/chat-users.json',
  ...(env.CHAT_GATEWAY_URL ? { gatewayUrl: env.CHAT_GATEWAY_URL } : {}),
}).catch((err: NodeJS.ErrnoException) => {
  // One line that says what to do, not a stack trace.
  if (err.code === 'EADDRINUSE') console.error(`chat: port ${port0} is already in use on ${host}: stop the program using it, or choose another with CHAT_PORT`);
  else console.error(`chat: could not start: ${err.message}`);
  process.exit(2);
});
const port = new URL(server.url).port;
const shown = host === '0.0.0.0' || host === '::' ? `http://127.0.0.1:${port}` : server.url;
// Under `npm start` the supervisor (scripts/start.ts) prints one banner for gateway and chat.
if (process.send) process.send({ type: 'listening', url: shown });
else console.log(`\n  Chat example   ${shown}   (open it in two browsers, log in as two users)\n`);

const stop = () => void server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
