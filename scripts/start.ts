/**
 * `npm start` (after scripts/start.sh installed what is missing and built the SDK bundle):
 * the gateway (`switchboard serve --dev` with the chat's namespaces) and the chat example,
 * each supervised — a gateway that dies (kill -9, a crash) is restarted with backoff while the
 * chat stays up. Ctrl-C stops both; so does SIGTERM, or the end of the process that started
 * it (npm). Extra arguments go to the gateway.
 *
 * Secrets: `SWITCHBOARD_JWT_SECRET` when set, else the development secrets file
 * (`data/dev-secrets.json` or `SWITCHBOARD_DEV_SECRETS`), made once: a restart keeps every
 * login, chat cookie and token valid.
 */
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../packages/server/src/config.ts';
import { devSecretsPath, loadDevSecrets } from '../packages/server/src/dev-secrets.ts';
import { devBanner } from '../packages/server/src/dev-banner.ts';
import { Supervised, type Listening } from './supervisor.ts';

const path = (p: string) => fileURLToPath(new URL(p, import.meta.url));
const env = process.env;
const say = (line: string) => console.error(`[switchboard] ${line}`);

let secretsFile: string | undefined;
let jwtSecret = env.SWITCHBOARD_JWT_SECRET;
if (!jwtSecret) {
  try {
    secretsFile = devSecretsPath(env);
    const secrets = loadDevSecrets(secretsFile);
    jwtSecret = secrets.jwtSecret;
    if (secrets.created) say(`development secrets created in ${secretsFile}`);
  } catch (err) {
    say(err instanceof ConfigError ? err.message : String(err));
    process.exit(2);
  }
}
// The gateway reads the same file itself (so its API key comes from it too); the chat gets the secret.
const gatewayEnv: NodeJS.ProcessEnv = { ...env, SWITCHBOARD_SUPERVISED: '1', ...(secretsFile ? { SWITCHBOARD_DEV_SECRETS: secretsFile } : {}) };
if (secretsFile) delete gatewayEnv.SWITCHBOARD_JWT_SECRET; // set but empty

let gatewayPort: string | undefined;
let gateway: Listening | undefined;
let chat: Listening | undefined;
let bannerShown = false;
let stopping = false;

const showBanner = () => {
  if (bannerShown || !gateway || !chat) return;
  bannerShown = true;
  const apiEnabled = Boolean(secretsFile || env.SWITCHBOARD_API_KEY);
  console.log(devBanner({ gateway: { url: gateway.url, wsUrl: gateway.wsUrl ?? `${gateway.url.replace(/^http/, 'ws')}/ws`, ...(gateway.bound ? { bound: gateway.bound } : {}) }, chatUrl: chat.url, apiEnabled, admin: Boolean(gateway.admin), ...(secretsFile ? { secretsFile } : {}) }));
};

const failedStart = (name: string) => (code: number) => {
  say(`${name} did not start (exit code ${code}); see its message above`);
  void stop(code || 1);
};

const gatewayProc = new Supervised({
  name: 'gateway',
  module: path('../packages/server/src/cli.ts'),
  // A restart keeps the port the first run got (even with --port 0), so pages reconnect to it.
  args: () => ['serve', '--dev', '--config', path('../examples/chat/switchboard.config.json'), ...process.argv.slice(2), ...(gatewayPort ? ['--port', gatewayPort] : [])],
  env: () => gatewayEnv,
  onListening: (l, restarted) => {
    gateway = l;
    gatewayPort = new URL(l.url).port;
    if (restarted) say(`gateway is back on ${l.url} (pid ${gatewayProc.pid})`);
    else if (!chatProc.pid) chatProc.start();
    showBanner();
  },
  onFailedStart: failedStart('gateway'),
});

const chatProc = new Supervised({
  name: 'chat',
  module: path('../examples/chat/src/main.ts'),
  args: () => [],
  env: () => ({ ...env, SWITCHBOARD_JWT_SECRET: jwtSecret, SWITCHBOARD_PORT: gatewayPort }),
  onListening: (l) => {
    chat = l;
    showBanner();
  },
  onFailedStart: failedStart('chat'),
});

async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await Promise.all([gatewayProc.stop(), chatProc.stop()]);
  process.exit(code);
}

process.on('SIGINT', () => void stop(130));
process.on('SIGTERM', () => void stop(143));
// A parent gone without a signal reaching this process (`npm` killed, or the `sh -c` npm runs
// scripts in terminated on its own) would leave the gateway and the chat running as orphans:
// stop them too.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void stop(143);
}, 1000).unref();
gatewayProc.start();
