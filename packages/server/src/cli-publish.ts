import { SwitchboardApiError } from '@switchboard/api-client';
import { apiFromFlags, type ApiFlags } from './cli-api.ts';
import { UsageError } from './cli-errors.ts';
import { readDevSecrets } from './dev-secrets.ts';
import { readConfigFile } from './config.ts';

/** The first API key and the port of a config file (as written, before defaults). */
function fromConfigFile(path: string): { apiKey?: string; port?: number } {
  const raw = readConfigFile(path);
  const keys = raw.apiKeys;
  const apiKey = Array.isArray(keys) && typeof keys[0] === 'string' ? keys[0] : undefined;
  const port = typeof raw.port === 'number' ? raw.port : undefined;
  return { ...(apiKey ? { apiKey } : {}), ...(port !== undefined ? { port } : {}) };
}

/** Flags of `switchboard publish <channel> <json>`. */
export interface PublishFlags extends ApiFlags {
  dev?: boolean;
  /** A config file: its first API key and its port, unless given otherwise. */
  config?: string;
  idempotencyKey?: string;
}

/**
 * `switchboard publish <channel> <json>`: publishes from a shell through the HTTP server API
 * (`POST /api/publish`) and prints the gateway's answer (`{"epoch":…,"offset":…}`) as JSON.
 */
export async function publishCommand(channel: string, json: string, flags: PublishFlags): Promise<void> {
  let data: unknown;
  try {
    data = JSON.parse(json);
  } catch {
    throw new UsageError(`publish: the data must be JSON, e.g. '{"text":"hello"}' (in single quotes in a shell); got ${JSON.stringify(json.slice(0, 60))}`);
  }
  // --dev: the API key `npm start` keeps, unless one was given.
  const devKey = flags.dev && !flags.apiKey && !process.env.SWITCHBOARD_API_KEY ? readDevSecrets().apiKey : undefined;
  // --config: the file's first API key and its port (the flags and environment still win).
  const file = flags.config ? fromConfigFile(flags.config) : {};
  const apiKey = flags.apiKey ?? devKey ?? (process.env.SWITCHBOARD_API_KEY ? undefined : file.apiKey);
  const url = flags.url ?? process.env.SWITCHBOARD_URL ?? `http://127.0.0.1:${process.env.SWITCHBOARD_PORT ?? file.port ?? 8080}`;
  const api = apiFromFlags({ ...flags, url, ...(apiKey ? { apiKey } : {}) });
  try {
    const r = await api.publish(channel, data, flags.idempotencyKey ? { idempotencyKey: flags.idempotencyKey } : {});
    process.stdout.write(`${JSON.stringify(r)}\n`);
  } catch (err) {
    if (!(err instanceof SwitchboardApiError)) throw err;
    if (err.code === 'network') throw new UsageError(`publish: no gateway answers at ${url}: start it (npm start), or pass --url (SWITCHBOARD_URL)`);
    if (err.status === 401) throw new UsageError(`publish: the gateway at ${url} refused the API key: use one of its apiKeys (--api-key, SWITCHBOARD_API_KEY; --dev for npm start's)`);
    throw new UsageError(`publish: ${err.code}: ${err.message}`);
  }
}
