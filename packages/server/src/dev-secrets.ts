import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { ConfigError } from './config.ts';

/** The secrets of a development setup (`serve --dev`, `npm start`), kept across restarts. */
export interface DevSecrets {
  /** HS256 secret: gateway tokens and the chat example's login cookies are signed with it. */
  jwtSecret: string;
  /** Server API key (`X-API-Key`), so `switchboard publish --dev` and curl work out of the box. */
  apiKey: string;
}

/** Where the development secrets live: `SWITCHBOARD_DEV_SECRETS`, else `./data/dev-secrets.json` (git-ignored). */
export function devSecretsPath(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.SWITCHBOARD_DEV_SECRETS || 'data/dev-secrets.json');
}

const isSecret = (v: unknown): v is string => typeof v === 'string' && v.length >= 16;

function read(path: string): DevSecrets {
  let v: Partial<DevSecrets>;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`development secrets file ${path} is unreadable (${(err as Error).message}): delete it and start again (a new one logs everyone out)`);
  }
  if (!isSecret(v?.jwtSecret) || !isSecret(v?.apiKey)) {
    throw new ConfigError(`development secrets file ${path} lacks jwtSecret/apiKey (16+ characters each): delete it and start again`);
  }
  return { jwtSecret: v.jwtSecret, apiKey: v.apiKey };
}

/**
 * The development secrets at `path`: read when the file exists, else generated once and
 * written (mode 0600; written aside, then linked into place, so two processes starting
 * together agree on one and neither reads a half-written file).
 * Tokens and login cookies signed with them survive a restart. Never used outside `--dev`.
 */
export function loadDevSecrets(path: string = devSecretsPath()): DevSecrets & { created: boolean } {
  const fresh: DevSecrets = { jwtSecret: randomBytes(32).toString('base64url'), apiKey: `dev_${randomBytes(24).toString('base64url')}` };
  const aside = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(aside, `${JSON.stringify(fresh, null, 2)}\n`, { mode: 0o600 });
    linkSync(aside, path);
    return { ...fresh, created: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new ConfigError(`cannot write development secrets to ${path} (${(err as Error).message}): set SWITCHBOARD_DEV_SECRETS to a writable path`);
    }
  } finally {
    try {
      unlinkSync(aside);
    } catch {
      // not written
    }
  }
  return { ...read(path), created: false };
}

/** The development secrets when the file exists (CLI `token --dev`, `publish --dev`), else a ConfigError saying how to get them. */
export function readDevSecrets(path: string = devSecretsPath()): DevSecrets {
  try {
    readFileSync(path);
  } catch {
    throw new ConfigError(`no development secrets at ${path}: start the gateway once with \`npm start\` or \`switchboard serve --dev\` (or set SWITCHBOARD_DEV_SECRETS)`);
  }
  return read(path);
}
