import type { Command } from 'commander';
import { SwitchboardApi, SwitchboardApiError } from '@switchboard/api-client';
import { ConfigError } from './config.ts';
import { parseDuration } from './duration.ts';

/** Flags every command that talks to a running gateway's server API takes. */
export interface ApiFlags {
  url?: string;
  apiKey?: string;
}

/**
 * The server API of a running gateway, from `--url` / `SWITCHBOARD_URL` (default
 * `http://127.0.0.1:$SWITCHBOARD_PORT`, port 8080) and `--api-key` / `SWITCHBOARD_API_KEY`
 * (its first key when it lists several).
 */
export function apiFromFlags(flags: ApiFlags, env: NodeJS.ProcessEnv = process.env): SwitchboardApi {
  const url = flags.url ?? env.SWITCHBOARD_URL ?? `http://127.0.0.1:${env.SWITCHBOARD_PORT ?? 8080}`;
  const apiKey = flags.apiKey ?? env.SWITCHBOARD_API_KEY?.split(',')[0]?.trim();
  if (!apiKey) throw new ConfigError('no API key: pass --api-key or set SWITCHBOARD_API_KEY (one of the gateway\'s apiKeys)');
  return new SwitchboardApi({ url, apiKey });
}

/** Adds `--url` and `--api-key` to a command that calls the server API. */
export function withApiOptions(c: Command): Command {
  return c
    .option('--url <url>', 'the gateway\'s HTTP URL (SWITCHBOARD_URL; default http://127.0.0.1:8080)')
    .option('--api-key <key>', 'a server API key (SWITCHBOARD_API_KEY)');
}

/** One line for a failed server API call: what the gateway said, or why it could not be reached. */
function apiFailure(command: string, err: unknown): ConfigError {
  if (err instanceof SwitchboardApiError) {
    const where = err.status === 0 ? 'cannot reach the gateway' : `the gateway answered ${err.status}`;
    return new ConfigError(`${command}: ${where}: ${err.message}`);
  }
  return new ConfigError(`${command}: ${(err as Error).message}`);
}

/** `--before`: Unix seconds, an ISO date, or `now`. */
function parseBefore(v: string): number {
  if (v === 'now') return Math.floor(Date.now() / 1000);
  if (/^\d+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw new ConfigError(`revoke: --before ${JSON.stringify(v)} is not Unix seconds, an ISO date or "now"`);
  return Math.floor(t / 1000);
}

/**
 * `block`, `unblock`, `revoke` and `access`: the operator's tools for an account gone bad,
 * through a running gateway's server API (so they apply on every node of a cluster).
 */
export function addAccessCommands(p: Command): void {
  const run = (name: string, fn: (api: SwitchboardApi, user: string, flags: Record<string, any>) => Promise<string>) =>
    async (user: string, flags: Record<string, any>) => {
      const api = apiFromFlags(flags);
      let line: string;
      try {
        line = await fn(api, user, flags);
      } catch (err) {
        throw apiFailure(name, err);
      }
      process.stdout.write(`${line}\n`);
    };
  withApiOptions(p.command('block <user>')
    .description('block a user on every node: its connections close (3502) and new ones are refused')
    .option('--ttl <duration>', 'lift the block by itself after this long (30s, 15m, 1h, 7d); default: until unblock')
    .option('--reason <text>', 'why (kept for operators; never sent to the client)'))
    .action(run('block', async (api, user, f) => {
      let ttl: number | undefined;
      if (f.ttl !== undefined) {
        const ms = parseDuration(f.ttl);
        if (ms === undefined || ms < 1000) throw new ConfigError(`block: --ttl ${JSON.stringify(f.ttl)} is not a duration of at least 1s (30s, 15m, 1h, 7d)`);
        ttl = Math.round(ms / 1000);
      }
      await api.block(user, { ...(ttl !== undefined ? { ttl } : {}), ...(f.reason !== undefined ? { reason: f.reason } : {}) });
      return `blocked ${user}${ttl !== undefined ? ` for ${ttl}s` : ' until unblocked'}`;
    }));
  withApiOptions(p.command('unblock <user>').description('lift a user\'s block'))
    .action(run('unblock', async (api, user) => {
      await api.unblock(user);
      return `unblocked ${user}`;
    }));
  withApiOptions(p.command('revoke <user>')
    .description('refuse the user\'s tokens issued before a time (default now); live connections using one close (3502)')
    .option('--before <time>', 'Unix seconds, an ISO date, or "now"', 'now'))
    .action(run('revoke', async (api, user, f) => {
      const before = parseBefore(f.before);
      await api.revoke(user, { before });
      return `revoked ${user}'s tokens issued before ${new Date(before * 1000).toISOString()}`;
    }));
  withApiOptions(p.command('access <user>').description('show whether a user is blocked and since when its tokens are revoked'))
    .action(run('access', async (api, user) => JSON.stringify(await api.access(user))));
}
