import type { CasBucket } from '../nats/cas-bucket.ts';
import { boundedReason, type AccessEntry, type AccessStore } from './access-store.ts';
import { token } from '../nats/names.ts';

/** An entry as JSON keeps it: a block without end (`Infinity`) as `null`. */
type Stored = Omit<AccessEntry, 'blockedUntil'> & { blockedUntil?: number | null };
const encode = (e: AccessEntry): Stored => (e.blockedUntil === Infinity ? { ...e, blockedUntil: null } : e);
const decode = (e: Stored): AccessEntry => (e.blockedUntil === null ? { ...e, blockedUntil: Infinity } : (e as AccessEntry));

/** Blocks and revocations in a JetStream KV bucket shared by every node (one key per user, changed with `CasBucket`). */
export class NatsAccessStore implements AccessStore {
  private readonly bucket: CasBucket;
  private readonly key: (k: string) => string;
  private readonly now: () => number;

  constructor(o: { bucket: CasBucket; key: (k: string) => string; now?: () => number }) {
    this.bucket = o.bucket;
    this.key = o.key;
    this.now = o.now ?? Date.now;
  }

  private async change(user: string, f: (e: AccessEntry | undefined) => AccessEntry | undefined): Promise<void> {
    await this.bucket.update<Stored, void>(this.key(token(user)), (cur) => {
      const next = f(cur && decode(cur));
      return { value: next === undefined ? undefined : encode(next), result: undefined };
    });
  }

  async block(user: string, untilMs: number, reason?: string): Promise<void> {
    await this.change(user, (cur) => {
      const e: AccessEntry = { ...cur, blockedUntil: untilMs };
      const r = boundedReason(reason);
      if (r === undefined) delete e.reason;
      else e.reason = r;
      return e;
    });
  }

  async unblock(user: string): Promise<void> {
    await this.change(user, (e) => (!e ? e : e.revokedBefore === undefined ? undefined : { revokedBefore: e.revokedBefore }));
  }

  async revoke(user: string, beforeSec: number): Promise<void> {
    await this.change(user, (cur) => ({ ...cur, revokedBefore: Math.max(cur?.revokedBefore ?? beforeSec, beforeSec) }));
  }

  async get(user: string): Promise<AccessEntry | undefined> {
    const got = await this.bucket.get<Stored>(this.key(token(user)));
    if (!got) return undefined;
    const e = decode(got);
    const out: AccessEntry = {};
    if (e.blockedUntil !== undefined && e.blockedUntil > this.now()) {
      out.blockedUntil = e.blockedUntil;
      if (e.reason !== undefined) out.reason = e.reason;
    }
    if (e.revokedBefore !== undefined) out.revokedBefore = e.revokedBefore;
    return Object.keys(out).length > 0 ? out : undefined;
  }

  async close(): Promise<void> {}
}
