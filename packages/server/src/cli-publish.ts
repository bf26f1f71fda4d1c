import { SwitchboardApi, SwitchboardApiError } from '@switchboard/api-client';
import { UsageError } from './cli-errors.ts';
import { readDevSecrets } from './dev-secrets.ts';

/** Flags of `switchboard publish <channel> <json>`. */
export interface PublishFlags {
  url?: string;
  apiKey?: string;
  dev?: boolean;
  idempotencyKey?: string;
}

/** The gateway's HTTP URL for CLI commands: `--url`, else `SWITCHBOARD_URL`, else `http://127.0.0.1:${SWITCHBOARD_PORT:-8080}`. */
export function gatewayUrl(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  return flag ?? env.SWITCHBOARD_URL ?? `http://127.0.0.1:${env.SWITCHBOARD_PORT || 8080}`;
}

/** The API key for CLI commands: `--api-key`, else the first of `SWITCHBOARD_API_KEY`, else (with `--dev`) the development secrets file. */
export function apiKeyOf(flags: PublishFlags, env: NodeJS.ProcessEnv = process.env): string {
  const key = flags.apiKey ?? env.SWITCHBOARD_API_KEY?.split(',')[0]?.trim();
  if (key) return key;
  if (flags.dev) return readDevSecrets().apiKey;
  throw new UsageError('publish: no API key: pass --api-key, set SWITCHBOARD_API_KEY, or add --dev to use the key `npm start` keeps');
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
  const url = gatewayUrl(flags.url);
  const api = new SwitchboardApi({ url, apiKey: apiKeyOf(flags) });
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
