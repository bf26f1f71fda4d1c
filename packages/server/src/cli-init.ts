import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { ConfigError } from './config.ts';

/** Flags of `switchboard init`. */
export interface InitFlags {
  /** Where to write (default `switchboard.config.json`). */
  config?: string;
}

/** The origin placeholder `init` writes: the one value to change before production. */
const ORIGIN_PLACEHOLDER = 'https://app.example.com';

/**
 * A production-ready configuration to start from: fresh secrets, namespaces for the common
 * cases, the origin list to fill in. Every key is a documented one (docs/configuration.md).
 */
function initialConfig(): Record<string, unknown> {
  return {
    host: '0.0.0.0',
    port: 8080,
    auth: { jwtSecret: randomBytes(32).toString('base64url') },
    apiKeys: [`sk_${randomBytes(24).toString('base64url')}`],
    allowedOrigins: [ORIGIN_PLACEHOLDER],
    storage: 'sqlite:./data/switchboard.db',
    namespaces: {
      // Rooms: history for late joiners and reconnects, presence, join/leave; tokens grant access.
      chat: { history: { size: 1000, ttl: '7d' }, presence: true, joinLeave: true },
      // Broadcasts from your backend (server API): anyone signed in may listen, no client publishes.
      news: { history: { size: 100, ttl: '24h' }, allowSubscribe: true, clientPublish: false },
      // Personal channels (#<user>): private messages and pushes, kept for users who are offline.
      '#': { history: { size: 1000, ttl: '30d' } },
    },
  };
}

const shell = (path: string) => (/^[\w./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`);

/**
 * `switchboard init`: writes `switchboard.config.json` (mode 0600: it holds the JWT secret and
 * the API key) and prints what it wrote and the next three commands. Refuses to overwrite
 * an existing file: the secrets in it sign tokens already handed out.
 */
export function initCommand(flags: InitFlags, out: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): void {
  const path = resolve(flags.config ?? 'switchboard.config.json');
  const shown = shell(relative(process.cwd(), path) || path);
  const text = `${JSON.stringify(initialConfig(), null, 2)}\n`;
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600); // wx: fails when the file exists, never truncates one
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new ConfigError(`init: ${shown} already exists: not overwritten (its secrets sign tokens already handed out); move it away or pass --config <another path>`);
    throw new ConfigError(`init: cannot write ${shown} (${(err as Error).message})`);
  }
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  out(`wrote ${shown} (mode 0600: it holds a fresh JWT secret and API key; keep it out of git)`);
  out(`  namespaces: chat (rooms: history, presence), news (backend broadcasts), # (personal channels)`);
  out(`  allowedOrigins: ${ORIGIN_PLACEHOLDER} — replace it with your app's origin(s) before production`);
  out('');
  out('next:');
  out(`  npx switchboard serve --config ${shown}`);
  out(`  npx switchboard token --config ${shown} --sub alice --channels 'chat:*' --publish 'chat:*'`);
  out(`  npx switchboard publish --config ${shown} news:updates '{"text":"hello"}'`);
}
