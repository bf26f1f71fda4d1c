import type { KV } from '@nats-io/kv';
import { transitionType, type Occupancy, type Subject, type TransitionEventFor } from './occupancy.ts';
import type { WebhookEvent, WebhookOutbox } from './webhook-outbox.ts';
import type { CasBucket } from '../nats/cas-bucket.ts';
import type { NatsLiveness } from '../nats/liveness.ts';
import { token } from '../nats/names.ts';
import type { Logger } from '../logger.ts';

/** Who holds a subject and whether it is announced up. */
interface Held { n: string[]; up: boolean }

const memberOf = (s: Subject) => `${s.kind === 'channel' ? 'c' : 'u'}:${s.name}`;
function subjectOf(member: string): Subject | undefined {
  const kind = member.startsWith('c:') ? 'channel' : member.startsWith('u:') ? 'user' : undefined;
  return kind && { kind, name: member.slice(2) };
}

/**
 * Occupancy on NATS: per subject (`c:<channel>`, `u:<user>`) the nodes holding it and whether
 * it is announced up, one value of the cluster bucket changed with `CasBucket`, so each
 * transition is decided once cluster-wide; its event is then added to the shared outbox
 * (a node that dies between the two loses that one event). Each node lists what it holds
 * (`held.<node>`) before it holds it; `maintain` settles what dead nodes held.
 */
export class NatsOccupancy implements Occupancy {
  readonly intervalMs: number;
  private readonly o: { bucket: CasBucket; kv: KV; key: (k: string) => string; liveness: NatsLiveness; outbox: WebhookOutbox; log?: Logger };
  private readonly mine = new Set<string>();
  private written = false;
  private writing: Promise<void> = Promise.resolve();

  constructor(o: { bucket: CasBucket; kv: KV; key: (k: string) => string; liveness: NatsLiveness; outbox: WebhookOutbox; intervalMs?: number; log?: Logger }) {
    this.o = o;
    this.intervalMs = o.intervalMs ?? 5000;
  }

  private keyOf(member: string): string {
    return this.o.key(`oc.${token(member)}`);
  }

  /** Lists what this node holds (`held.<node>`) before it counts anywhere, so a sweep after this node's death finds it. */
  private writeHeld(): Promise<void> {
    this.writing = this.writing.catch(() => {}).then(async () => {
      await this.o.kv.put(this.o.key(`held.${token(this.o.liveness.id)}`), JSON.stringify([...this.mine]));
      this.written = true;
    });
    return this.writing;
  }

  async occupy(subject: Subject, event: WebhookEvent | undefined): Promise<boolean> {
    const member = memberOf(subject);
    await this.o.liveness.ensure();
    if (!this.mine.has(member)) {
      this.mine.add(member);
      await this.writeHeld();
    }
    const me = this.o.liveness.id;
    const up = await this.o.bucket.update<Held, boolean>(this.keyOf(member), (cur) => {
      const n = cur?.n.includes(me) ? cur.n : [...(cur?.n ?? []), me];
      return { value: cur?.up && n === cur.n ? cur : { n, up: true }, result: !cur?.up };
    });
    if (up && event) await this.o.outbox.add(event);
    return up;
  }

  async vacate(subject: Subject, event: WebhookEvent | undefined): Promise<boolean> {
    const member = memberOf(subject);
    this.mine.delete(member);
    const down = await this.release(member, this.o.liveness.id, event);
    void this.writeHeld().catch(() => {}); // a member listed but not held is harmless
    return down;
  }

  /** `node` no longer holds `member`; true (and `event` queued) when that left it empty. */
  private async release(member: string, node: string, event: WebhookEvent | undefined): Promise<boolean> {
    const held = await this.o.bucket.get<Held>(this.keyOf(member));
    const dead = await this.o.liveness.deadOf(held?.n ?? []);
    const down = await this.o.bucket.update<Held, boolean>(this.keyOf(member), (cur) => {
      if (!cur) return { value: cur, result: false };
      const n = cur.n.filter((x) => x !== node && !dead.has(x));
      if (n.length > 0) return { value: n.length === cur.n.length ? cur : { ...cur, n }, result: false };
      return { value: undefined, result: cur.up };
    });
    if (down && event) await this.o.outbox.add(event);
    return down;
  }

  async maintain(eventFor: TransitionEventFor): Promise<number> {
    await this.o.liveness.ensure();
    const own = this.o.key(`held.${token(this.o.liveness.id)}`);
    let enqueued = 0;
    const listed = await this.o.kv.get(own);
    if (this.written && (!listed || listed.operation !== 'PUT')) {
      // Another node took this one for dead and settled what it held: hold it again.
      this.o.log?.warn({ entries: this.mine.size }, 'webhook occupancy: this node was taken for dead; its entries restored');
      await this.writeHeld();
      for (const member of [...this.mine]) {
        const subject = subjectOf(member);
        const event = subject && eventFor(transitionType(subject.kind, true), subject);
        if ((await this.occupy(subject!, event)) && event) enqueued++;
      }
    }
    await this.writeHeld();
    for (const dead of await this.o.liveness.deadOf(await this.o.liveness.known())) {
      const e = await this.o.kv.get(this.o.key(`held.${token(dead)}`));
      const members = e && e.operation === 'PUT' && e.length > 0 ? e.json<string[]>() : [];
      for (const member of members) {
        const subject = subjectOf(member);
        const event = subject && eventFor(transitionType(subject.kind, false), subject);
        if ((await this.release(member, dead, event)) && event) enqueued++;
      }
      await this.o.kv.delete(this.o.key(`held.${token(dead)}`));
    }
    return enqueued;
  }
}
