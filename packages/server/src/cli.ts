import { Command, CommanderError, Option } from 'commander';
import { ConfigError, configFromEnv, devDefaults, hasAuthMethod, mergeConfig, parseConfig, readConfigFile, type Config } from './config.ts';
import { parseDuration } from './duration.ts';
import { mintToken } from './auth/mint.ts';
import { devSecretsPath, loadDevSecrets, readDevSecrets } from './dev-secrets.ts';
import { report } from './cli-errors.ts';
import { publishCommand } from './cli-publish.ts';
import { initCommand } from './cli-init.ts';
import { devBanner } from './dev-banner.ts';
import { availableParallelism } from 'node:os';
import { createLogger } from './logger.ts';
import { execLeanIfNeeded, isWorkersPrimary, runWorkers } from './workers.ts';
import { addAccessCommands, withApiOptions } from './cli-api.ts';
import { addOutboxCommands } from './cli-outbox.ts';

const list = (v: string, prev: string[] = []) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)];

/** Loads configuration: defaults < (dev defaults) < file < environment < flags. */
export function loadConfig(flags: Record<string, any>, env: NodeJS.ProcessEnv = process.env): Config {
  const file = flags.config ?? env.SWITCHBOARD_CONFIG;
  const fromFlags: Record<string, any> = {};
  if (flags.port !== undefined) fromFlags.port = Number(flags.port);
  if (flags.host !== undefined) fromFlags.host = flags.host;
  if (flags.jwtSecret !== undefined) fromFlags.auth = { jwtSecret: flags.jwtSecret };
  if (flags.apiKey !== undefined) fromFlags.apiKeys = flags.apiKey;
  if (flags.allowedOrigins !== undefined) fromFlags.allowedOrigins = flags.allowedOrigins;
  if (flags.storage !== undefined) fromFlags.storage = flags.storage;
  if (flags.redis !== undefined) fromFlags.redis = flags.redis;
  if (flags.postgres !== undefined) fromFlags.postgres = flags.postgres;
  if (flags.nats !== undefined) fromFlags.nats = { url: flags.nats };
  if (flags.logLevel !== undefined) fromFlags.logLevel = flags.logLevel;
  if (flags.tlsCert !== undefined || flags.tlsKey !== undefined) fromFlags.tls = { cert: flags.tlsCert, key: flags.tlsKey };
  const given = mergeConfig(file ? readConfigFile(file) : {}, configFromEnv(env), fromFlags);
  const merged = mergeConfig(flags.dev ? devDefaults() : {}, given);
  // Cluster mode (`redis`, `postgres` or `nats` set) keeps everything there unless storage was chosen explicitly.
  if ((merged.redis || merged.postgres || merged.nats) && given.storage === undefined) delete merged.storage;
  // Dev mode without a secret: the development secrets file (made once), so a restart keeps logins.
  if (flags.dev && !(merged.auth as Record<string, unknown> | undefined)?.jwtSecret) {
    const secrets = loadDevSecrets(devSecretsPath(env));
    merged.auth = { ...(merged.auth as object), jwtSecret: secrets.jwtSecret };
    if (!(merged.apiKeys as unknown[] | undefined)?.length) merged.apiKeys = [secrets.apiKey];
  }
  return parseConfig(merged);
}

async function serve(flags: Record<string, any>): Promise<void> {
  const config = loadConfig(flags);
  if (!hasAuthMethod(config)) {
    console.error(
      'switchboard: refusing to start: no way to authenticate connections: set SWITCHBOARD_JWT_SECRET (or --jwt-secret), ' +
        'auth.publicKey, auth.jwksUrl, hooks.connect.url or pusher.apps (SWITCHBOARD_PUSHER_APP_ID/KEY/SECRET) in the config file, or run `switchboard serve --dev` for local development',
    );
    process.exit(2);
  }
  const workers = parseWorkers(flags.workers);
  if (workers !== undefined && workers > 1 && !config.redis && !config.postgres && !config.nats) {
    console.error(
      `switchboard: refusing to start ${workers} workers without a cluster backend (workers share clients, history and sessions only through Redis or PostgreSQL): ` +
        'add --redis redis://HOST:6379 (or SWITCHBOARD_REDIS_URL) or --postgres postgres://HOST/DB (or SWITCHBOARD_POSTGRES_URL), or drop --workers',
    );
    process.exit(2);
  }
  // Lean by default: a single process caps V8's young generation as workers do.
  if (!isWorkersPrimary(workers)) execLeanIfNeeded();
  if (isWorkersPrimary(workers)) {
    // Every worker must use the same secret (dev mode: the one from the development secrets file).
    const env: Record<string, string> = config.dev && config.auth.jwtSecret ? { SWITCHBOARD_JWT_SECRET: config.auth.jwtSecret } : {};
    // The banner once, from the primary, when the first worker listens (workers print none).
    const onListening = config.dev ? (port: number) => printDevBanner(config, { ...urlsOf(config, port), bound: config.host }) : undefined;
    runWorkers({ count: workers!, log: createLogger(config.logLevel), shutdownTimeoutMs: config.shutdown.timeoutMs, env, ...(onListening ? { onListening } : {}) });
    return;
  }
  // Loaded here, not at the top: `token`, `publish` and every usage error start fast without the server's modules.
  const { createServer } = await import('./server.ts');
  const server = await createServer({ config });
  let addr: Awaited<ReturnType<typeof server.listen>>;
  try {
    addr = await server.listen();
  } catch (err) {
    await server.close().catch(() => {});
    report(err, { host: config.host, port: config.port });
    process.exit(2);
  }
  // Under `npm start` (scripts/start.ts) the supervisor prints one banner for gateway and chat.
  if (process.send && process.env.SWITCHBOARD_SUPERVISED === '1') process.send({ type: 'listening', url: addr.url, wsUrl: addr.wsUrl, bound: addr.host, admin: config.admin.password !== null });
  else if (config.dev && process.env.SWITCHBOARD_WORKER !== '1') printDevBanner(config, addr);
  server.log.info({ http: addr.url, ws: addr.wsUrl, storage: config.storage.split(':')[0], dev: config.dev }, 'switchboard listening');
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    server.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      server.log.warn('shutdown timed out; exiting');
      process.exit(1);
    }, config.shutdown.timeoutMs);
    force.unref();
    let code = 0;
    try {
      await server.close();
      server.log.info('shutdown complete: clients told, stores flushed');
    } catch (err) {
      server.log.error({ err }, 'shutdown failed');
      code = 1;
    } finally {
      process.exit(code);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

/** The `--dev` banner: where to connect, where the secrets are, how to get a token. */
function printDevBanner(config: Config, addr: { url: string; wsUrl: string; host?: string; bound?: string }): void {
  const fromFile = process.env.SWITCHBOARD_JWT_SECRET ? undefined : devSecretsPath();
  const bound = addr.bound ?? addr.host;
  console.log(devBanner({ gateway: { url: addr.url, wsUrl: addr.wsUrl, ...(bound ? { bound } : {}) }, apiEnabled: config.apiKeys.length > 0, admin: config.admin.password !== null, ...(fromFile ? { secretsFile: fromFile } : {}) }));
}

/** The URLs of `--workers` from the primary, which does not listen itself. */
function urlsOf(config: Config, port: number): { url: string; wsUrl: string } {
  const h = config.host;
  const shown = h === '0.0.0.0' || h === '::' ? '127.0.0.1' : h.includes(':') ? `[${h}]` : h;
  const s = config.tls ? 's' : '';
  return { url: `http${s}://${shown}:${port}`, wsUrl: `ws${s}://${shown}:${port}/ws` };
}

function parseWorkers(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  const n = v === 'auto' ? availableParallelism() : Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 256) throw new ConfigError(`--workers: expected a number of processes (1-256) or "auto", got ${JSON.stringify(v)}`);
  return n;
}

async function token(flags: Record<string, any>): Promise<void> {
  const config = loadConfig({ config: flags.config });
  const secret: string | null = flags.secret ?? config.auth.jwtSecret ?? (flags.dev ? readDevSecrets().jwtSecret : null);
  if (!secret) throw new ConfigError('token: no secret: pass --secret, set SWITCHBOARD_JWT_SECRET, auth.jwtSecret in --config, or --dev for the one `npm start` keeps');
  // 0 (or 0s…): a token without `exp`, valid until the secret changes.
  const ttlMs = flags.ttl === undefined ? 3_600_000 : /^0+$/.test(String(flags.ttl).trim()) ? 0 : parseDuration(flags.ttl);
  if (ttlMs === undefined) throw new ConfigError(`token: --ttl ${JSON.stringify(flags.ttl)} is not a duration (30s, 15m, 1h, 7d, or 0 for none)`);
  let info: unknown;
  if (flags.info !== undefined) {
    try {
      info = JSON.parse(flags.info);
    } catch {
      throw new ConfigError('token: --info must be JSON');
    }
  }
  const alg = config.auth.algorithms.find((a) => a.startsWith('HS')) as 'HS256' | 'HS384' | 'HS512' | undefined;
  const jwt = await mintToken({
    sub: flags.sub, secret, channels: flags.channels, publish: flags.publish, ttlSec: Math.round(ttlMs / 1000),
    sid: flags.sid, info, alg: alg ?? 'HS256',
    ...(config.auth.audience ? { audience: config.auth.audience } : {}),
    ...(config.auth.issuer ? { issuer: config.auth.issuer } : {}),
  });
  process.stdout.write(`${jwt}\n`);
}

export function program(): Command {
  const p = new Command('switchboard').description('Switchboard real-time messaging gateway');
  p.command('init')
    .description('write a production-ready switchboard.config.json (fresh secrets, namespaces, origins to fill in); never overwrites')
    .option('-c, --config <path>', 'where to write it', 'switchboard.config.json')
    .action((flags) => initCommand(flags));
  p.command('serve')
    .description('run the gateway')
    .option('-c, --config <path>', 'JSON configuration file (also SWITCHBOARD_CONFIG)')
    .option('-p, --port <port>', 'port to listen on (SWITCHBOARD_PORT)')
    .option('--host <host>', 'address to bind (SWITCHBOARD_HOST)')
    .option('--dev', 'development mode: embedded defaults, anonymous allowed, random secret')
    .option('--jwt-secret <secret>', 'HS* secret for tokens (SWITCHBOARD_JWT_SECRET)')
    .option('--api-key <keys>', 'server API key(s), comma-separated (SWITCHBOARD_API_KEY)', list)
    .option('--allowed-origins <origins>', 'comma-separated browser origins (SWITCHBOARD_ALLOWED_ORIGINS)', list)
    .option('--storage <storage>', 'memory | sqlite:<path> | redis | postgres (SWITCHBOARD_STORAGE)')
    .option('--redis <url>', 'Redis URL: cluster mode (SWITCHBOARD_REDIS_URL)')
    .option('--postgres <url>', 'PostgreSQL URL: cluster mode on Postgres alone (SWITCHBOARD_POSTGRES_URL)')
    .option('--nats <urls>', 'NATS server URLs, comma-separated: cluster mode on NATS JetStream (SWITCHBOARD_NATS_URL)')
    .option('--workers <n>', 'run N gateway processes sharing the port (or "auto": one per CPU); needs --redis')
    .addOption(new Option('--log-level <level>', 'log level (SWITCHBOARD_LOG_LEVEL)').choices(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']))
    .option('--tls-cert <path>', 'TLS certificate (PEM): serve wss:// and https://')
    .option('--tls-key <path>', 'TLS private key (PEM)')
    .action(serve);
  p.command('token')
    .description('mint a token signed with the configured secret')
    .requiredOption('--sub <user>', 'user id')
    .option('--channels <patterns>', 'subscribe patterns, comma-separated (e.g. "chat:*")', list)
    .option('--publish <patterns>', 'publish patterns, comma-separated', list)
    .option('--ttl <duration>', 'lifetime (30s, 15m, 1h, 7d; 0: no expiry)', '1h')
    .option('--sid <id>', 'login session id claim')
    .option('--info <json>', 'public user info (JSON)')
    .option('--secret <secret>', 'HS* secret (default: SWITCHBOARD_JWT_SECRET or the config file)')
    .option('--dev', "use the development secret `npm start` keeps (data/dev-secrets.json, or SWITCHBOARD_DEV_SECRETS)")
    .option('-c, --config <path>', 'JSON configuration file')
    .action(token);
  withApiOptions(p.command('publish')
    .description('publish JSON data to a channel through the server API (POST /api/publish)')
    .argument('<channel>', 'channel name, e.g. chat:lobby')
    .argument('<json>', `the data, as JSON: '{"text":"hello"}'`))
    .option('--dev', "use the development API key `npm start` keeps (data/dev-secrets.json, or SWITCHBOARD_DEV_SECRETS)")
    .option('-c, --config <path>', 'take the API key and port from this config file (its first apiKeys entry)')
    .option('--idempotency-key <key>', 'publish at most once under this key')
    .action((channel: string, json: string, flags) => publishCommand(channel, json, flags));
  addAccessCommands(p);
  addOutboxCommands(p, (config) => loadConfig({ config }).outbox);
  // Usage mistakes (unknown flag, missing argument): one line that says what to do, exit 2.
  for (const c of [p, ...p.commands, ...p.commands.flatMap((sub) => sub.commands)]) {
    c.exitOverride().configureOutput({
      outputError: (text, write) => write(`switchboard: ${text.replace(/^error: /, '').trim().replace(/\s*\n\s*/g, ' ')} (see: switchboard ${c === p ? '' : `${c.name()} `}--help)\n`),
    });
  }
  return p;
}

export async function main(argv = process.argv): Promise<void> {
  try {
    await program().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) process.exit(err.exitCode === 0 ? 0 : 2); // already printed (or --help/--version)
    report(err);
    process.exit(2);
  }
}

if (import.meta.main) void main();
