import { createHash } from 'node:crypto';

/**
 * Names of what a deployment keeps on NATS, all under one prefix (default `sb`), so that two
 * deployments (or two tests) on one NATS cluster never see each other's streams, buckets or
 * subjects. A prefix is letters, digits, `_` and `-` (valid in stream names, subjects and keys).
 */
export class NatsNames {
  readonly prefix: string;
  /** Subjects and keys of one store within the deployment's streams and buckets (tests: many stores on one stream). */
  private readonly space: string;

  constructor(prefix = 'sb', o: { space?: string; shards?: number } = {}) {
    const space = o.space ?? '_';
    this.shards = o.shards ?? 8;
    if (!Number.isInteger(this.shards) || this.shards < 1 || this.shards > 64) throw new Error('nats: history shards must be 1–64');
    for (const [what, v] of [['prefix', prefix], ['space', space]]) {
      if (!/^[A-Za-z0-9_-]{1,32}$/.test(v)) throw new Error(`nats: ${what} "${v}" must be 1–32 letters, digits, _ or -`);
    }
    this.prefix = prefix;
    this.space = space;
  }

  /** How many history streams channels are spread over (`shardOf`). */
  readonly shards: number;

  /** The history stream `shard` (channels with history whose `shardOf` it is, one subject per channel). */
  historyStream(shard: number): string {
    return `${this.prefix}_history_${shard}`;
  }

  /** Every history stream. */
  historyStreams(): string[] {
    return Array.from({ length: this.shards }, (_, i) => this.historyStream(i));
  }

  /** The history stream of a channel. */
  shardOf(channel: string): number {
    return createHash('sha1').update(channel).digest().readUInt32BE(0) % this.shards;
  }

  /** The history subject of a channel (in its shard's stream). */
  historySubject(channel: string): string {
    return `${this.prefix}.h.${this.shardOf(channel)}.${this.space}.${token(channel)}`;
  }

  /** The subjects of history stream `shard`. */
  historySubjects(shard: number): string {
    return `${this.prefix}.h.${shard}.>`;
  }

  /** A subject of history stream `shard` that is no channel's (its first message). */
  historyMarker(shard: number): string {
    return `${this.prefix}.h.${shard}.-`;
  }

  /** A channel back from its history subject (undefined: not a channel of this store's space). */
  channelOfHistorySubject(subject: string): string | undefined {
    const parts = subject.split('.');
    if (parts.length !== 5 || parts[0] !== this.prefix || parts[1] !== 'h' || parts[3] !== this.space) return undefined;
    return untoken(parts[4]!);
  }

  /** The core subject of a channel's live publications (channels without history). */
  publicationSubject(channel: string): string {
    return `${this.prefix}.p.${token(channel)}`;
  }

  /** Control messages to every node. */
  get controlSubject(): string {
    return `${this.prefix}.ctl`;
  }

  /** Control messages to one node. */
  nodeSubject(nodeId: string): string {
    return `${this.prefix}.node.${token(nodeId)}`;
  }

  /** A key in a KV bucket: `parts` joined with `.` under the store's space. */
  key(...parts: string[]): string {
    return [this.space, ...parts].join('.');
  }

  /** A KV bucket of this deployment (`keys`, `sessions`, …). */
  bucket(name: string): string {
    return `${this.prefix}_${name}`;
  }
}

/** Any string as one subject token or KV key part: base64url (letters, digits, `-`, `_`; `=` for the empty string). */
export function token(s: string): string {
  return s === '' ? '=' : Buffer.from(s, 'utf8').toString('base64url');
}

/** The string back from `token`. */
function untoken(t: string): string {
  return t === '=' ? '' : Buffer.from(t, 'base64url').toString('utf8');
}

/** A fixed-length KV key part for an arbitrary string (sha-256, base64url). */
export function hashed(s: string): string {
  return createHash('sha256').update(s).digest('base64url');
}
