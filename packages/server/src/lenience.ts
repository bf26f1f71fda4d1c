import type { Logger } from './logger.ts';
import { clip } from './log-limit.ts';

/** What dev mode let through that production would refuse. */
export type DevAllowance = 'unconfigured_namespace' | 'subscribe_grant' | 'publish_grant';

/** One line per (allowance, namespace) at most this often; the lines left out are counted in the next. */
const INTERVAL_MS = 60_000;
/** Distinct (allowance, namespace) pairs remembered (a client can name many namespaces). */
const MAX_KEYS = 1000;

/**
 * Dev mode (`switchboard serve --dev`) is open: every namespace exists (an unconfigured one
 * keeps history and has presence) and token grants are not required. So that permission
 * mistakes show up before production, each command allowed only because of that writes a
 * warning naming what production would refuse and why (the missing grant, the missing
 * namespace): one line per kind and namespace a minute at most, with the count of the others.
 */
export class DevLenience {
  private readonly log: Logger;
  private readonly now: () => number;
  /** `${allowance} ${namespace}` → when it was last written and how many were left out since. */
  private readonly seen = new Map<string, { at: number; skipped: number }>();

  constructor(log: Logger, now: () => number = Date.now) {
    this.log = log;
    this.now = now;
  }

  /** Records that `what` was allowed on `channel` (of `namespace`) only because dev mode is open. */
  allowed(what: DevAllowance, namespace: string, channel: string): void {
    const key = `${what} ${namespace}`;
    const t = this.now();
    const s = this.seen.get(key);
    if (s && t - s.at < INTERVAL_MS) {
      s.skipped++;
      return;
    }
    if (!s && this.seen.size >= MAX_KEYS) this.seen.clear();
    const skipped = s?.skipped ?? 0;
    this.seen.set(key, { at: t, skipped: 0 });
    this.log.warn({ channel: clip(channel), ...(skipped ? { alsoAllowedSinceLastLine: skipped } : {}) }, `dev mode allowed this; production would refuse it: ${reason(what, String(clip(namespace)), String(clip(channel)))}`);
  }
}

function reason(what: DevAllowance, ns: string, channel: string): string {
  const pattern = ns === '' ? channel : `${ns}:*`;
  switch (what) {
    case 'unconfigured_namespace':
      return `namespace "${ns}" is not configured (unknown_channel): add "namespaces": {"${ns}": {…}} to the config file`;
    case 'subscribe_grant':
      return `no grant to subscribe to ${channel} (permission_denied): the token needs "channels": ["${pattern}"] (switchboard token --channels '${pattern}'), or the namespace "allowSubscribe": true`;
    case 'publish_grant':
      return `no grant to publish to ${channel} (permission_denied): the token needs "publish": ["${pattern}"] (switchboard token --publish '${pattern}'), or the namespace "allowPublish": true`;
  }
}
