import type { AcquireResult, LoginLimit, LoginRegistry } from './login-registry.ts';
import type { CasBucket } from '../nats/cas-bucket.ts';
import type { NatsLiveness } from '../nats/liveness.ts';
import { token } from '../nats/names.ts';

/** A live login: its connections (each with its node), oldest login first in the list. */
interface Login { l: string; c: Array<{ c: string; n: string }> }

/**
 * Live logins for single sign-on in a JetStream KV bucket shared by every node: one value
 * per scope and user (its logins, oldest first), changed with `CasBucket`, so a limit holds
 * exactly across nodes (concurrent new logins never exceed it). Connections of a node that
 * is no longer live (`NatsLiveness`) do not count.
 */
export class NatsLoginRegistry implements LoginRegistry {
  private readonly bucket: CasBucket;
  private readonly key: (k: string) => string;
  private readonly liveness: NatsLiveness;

  constructor(o: { bucket: CasBucket; key: (k: string) => string; liveness: NatsLiveness }) {
    this.bucket = o.bucket;
    this.key = o.key;
    this.liveness = o.liveness;
  }

  private keyOf(scope: string, user: string): string {
    return this.key(`lg.${token(scope)}.${token(user)}`);
  }

  /** The logins with their dead nodes' connections left out (and logins left without one). */
  private async pruner(k: string): Promise<(logins: Login[]) => Login[]> {
    const cur = (await this.bucket.get<Login[]>(k)) ?? [];
    const dead = await this.liveness.deadOf(cur.flatMap((l) => l.c.map((x) => x.n)));
    return (logins) => logins.map((l) => ({ ...l, c: l.c.filter((x) => !dead.has(x.n)) })).filter((l) => l.c.length > 0);
  }

  async acquire(scope: string, user: string, login: string, client: string, limit: LoginLimit): Promise<AcquireResult> {
    await this.liveness.ensure();
    const k = this.keyOf(scope, user);
    const prune = await this.pruner(k);
    return this.bucket.update<Login[], AcquireResult>(k, (cur) => {
      const logins = prune(cur ?? []);
      const me = { c: client, n: this.liveness.id };
      const live = logins.find((l) => l.l === login);
      if (live) {
        if (!live.c.some((x) => x.c === client)) live.c.push(me);
        return { value: logins, result: { admitted: true, evicted: [] } };
      }
      let kept = logins;
      const evicted: string[] = [];
      if (logins.length >= limit.maxPerUser) {
        if (limit.onLimit === 'reject_new') return { value: cur, result: { admitted: false, live: logins.length } };
        const drop = logins.length - limit.maxPerUser + 1;
        evicted.push(...logins.slice(0, drop).map((l) => l.l));
        kept = logins.slice(drop);
      }
      return { value: [...kept, { l: login, c: [me] }], result: { admitted: true, evicted } };
    });
  }

  async release(scope: string, user: string, login: string, client: string): Promise<void> {
    const k = this.keyOf(scope, user);
    await this.bucket.update<Login[], void>(k, (cur) => {
      const l = cur?.find((x) => x.l === login);
      if (!cur || !l || !l.c.some((x) => x.c === client)) return { value: cur, result: undefined };
      const next = cur.map((x) => (x === l ? { ...x, c: x.c.filter((y) => y.c !== client) } : x)).filter((x) => x.c.length > 0);
      return { value: next.length > 0 ? next : undefined, result: undefined };
    });
  }

  async logins(scope: string, user: string): Promise<string[]> {
    const k = this.keyOf(scope, user);
    const prune = await this.pruner(k);
    return prune((await this.bucket.get<Login[]>(k)) ?? []).map((l) => l.l);
  }

  async close(): Promise<void> {}
}
