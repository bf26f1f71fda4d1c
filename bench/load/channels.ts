/** Which channels a simulated client subscribes to, by scenario. */
export type ChannelRule =
  | { kind: 'fanout'; channel: string }
  /** Personal channel `u:<i>` and group `g:<i / groupSize>` (Centrifugo's million-connection layout). */
  | { kind: 'rooms'; groupSize: number }
  /** Personal channel only. */
  | { kind: 'personal' };

export function channelsFor(rule: ChannelRule, i: number): string[] {
  switch (rule.kind) {
    case 'fanout': return [rule.channel];
    case 'rooms': return [`u:${i}`, `g:${Math.floor(i / rule.groupSize)}`];
    case 'personal': return [`u:${i}`];
    default: {
      const never: never = rule;
      throw new Error(`unknown rule ${JSON.stringify(never)}`);
    }
  }
}

/** Where the publisher publishes. */
export type PublishTarget =
  | { kind: 'single'; channel: string; subscribers: number }
  /** Alternately a group channel (groupSize members) and a personal channel (1), spread over all. */
  | { kind: 'rooms'; clients: number; groupSize: number };

/** The n-th publication's channel and how many deliveries it should make. */
export function pickTarget(t: PublishTarget, n: number): { channel: string; members: number } {
  switch (t.kind) {
    case 'single': return { channel: t.channel, members: t.subscribers };
    case 'rooms': {
      // A multiplicative hash spreads consecutive publications over all groups and users.
      const h = (n * 2654435761) >>> 0;
      if (n % 2 === 0) {
        const groups = Math.ceil(t.clients / t.groupSize);
        const g = h % groups;
        return { channel: `g:${g}`, members: Math.min(t.groupSize, t.clients - g * t.groupSize) };
      }
      return { channel: `u:${h % t.clients}`, members: 1 };
    }
    default: {
      const never: never = t;
      throw new Error(`unknown target ${JSON.stringify(never)}`);
    }
  }
}
