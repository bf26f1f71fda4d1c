import { ConfigError } from './config.ts';
import { DatabaseInUseError } from './sqlite/database.ts';

/** A mistake the operator can fix: printed as one line (`switchboard: …`), exit code 2, never a stack trace. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** Where the gateway was told to listen, to name it when the port is taken. */
export interface ListenTarget {
  host: string;
  port: number;
}

/**
 * The one line that tells the operator what went wrong and what to do, for every error the
 * CLI can meet at start-up or in a command. Unknown errors still get one line (their message);
 * `SWITCHBOARD_DEBUG=1` adds the stack for a bug report.
 */
function explain(err: unknown, listen?: ListenTarget): string {
  if (err instanceof ConfigError || err instanceof DatabaseInUseError || err instanceof UsageError) {
    // "invalid configuration:\n  key: problem\n  key: problem" on one line: "…: key: problem; key: problem"
    const [head, ...issues] = err.message.split('\n').map((l) => l.trim()).filter(Boolean);
    return issues.length ? `${head} ${issues.join('; ')}` : head!;
  }
  const e = err as NodeJS.ErrnoException & { address?: string; port?: number };
  const where = listen ? `${listen.host}:${listen.port}` : `${e.address ?? '?'}:${e.port ?? '?'}`;
  if (e?.code === 'EADDRINUSE') {
    return `port ${listen?.port ?? e.port} is already in use on ${listen?.host ?? e.address}: stop the program using it, or choose another port with --port (SWITCHBOARD_PORT)`;
  }
  if (e?.code === 'EACCES' && e.syscall === 'listen') {
    return `not allowed to listen on ${where} (ports below 1024 need privileges): choose a port above 1024 with --port (SWITCHBOARD_PORT)`;
  }
  if (e?.code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: no such address on this machine; check --host (SWITCHBOARD_HOST)`;
  const message = e instanceof Error ? e.message : String(err);
  if (/^cannot connect to Redis/.test(message)) {
    return `${message}: start Redis there, or fix --redis (SWITCHBOARD_REDIS_URL); without --redis the gateway runs on one node without Redis`;
  }
  return `${message} (set SWITCHBOARD_DEBUG=1 for details)`;
}

/** Prints `explain(err)` as one line on stderr (and the stack with `SWITCHBOARD_DEBUG=1`). */
export function report(err: unknown, listen?: ListenTarget): void {
  console.error(`switchboard: ${explain(err, listen)}`);
  if (process.env.SWITCHBOARD_DEBUG === '1' && err instanceof Error && err.stack) console.error(err.stack);
}
