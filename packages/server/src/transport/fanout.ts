/**
 * One kind of work a transport does on an outgoing payload (framing it as a WebSocket
 * frame, compressing it, turning it into an SSE event), given once as a pure function.
 * Declared once per kind, as a module constant; the results live in a `FanoutEncoder`.
 */
export class FanoutSlot<T> {
  readonly name: string;
  readonly build: (payload: Buffer) => T;
  /** Where a `FanoutEncoder` keeps this slot's results. */
  readonly index: number;

  constructor(name: string, build: (payload: Buffer) => T, index: number) {
    this.name = name;
    this.build = build;
    this.index = index;
  }
}

const declared: string[] = [];

/** Declares a kind of per-payload work (at module load; the slot is immutable). */
export function fanoutSlot<T>(name: string, build: (payload: Buffer) => T): FanoutSlot<T> {
  declared.push(name);
  return new FanoutSlot(name, build, declared.length - 1);
}

/** One slot's results: the last payload asked for (the usual hit), and every other one this pass. */
class SlotResults {
  last: Buffer | undefined = undefined;
  lastValue: unknown = undefined;
  more: Map<Buffer, unknown> | undefined = undefined;
  built = 0;
}

/**
 * The fan-out encoder of one node's write path: in a fan-out every subscriber's connection
 * sends the very same payload Buffer in the same flush pass, and the transport frames (or
 * compresses) it once here instead of once per socket. The outbox (`connection/outbox.ts`)
 * owns it, hands it to every `Transport.send` and clears it after each pass, so nothing
 * outlives the pass and nothing is shared between nodes (no module state on the write path).
 */
export class FanoutEncoder {
  private readonly slots: SlotResults[] = [];

  /** `slot.build(payload)`, computed once per payload until the next `clear`. */
  memo<T>(slot: FanoutSlot<T>, payload: Buffer): T {
    const r = (this.slots[slot.index] ??= new SlotResults());
    if (r.last === payload) return r.lastValue as T;
    let value: T;
    if (r.more?.has(payload)) value = r.more.get(payload) as T;
    else {
      value = slot.build(payload);
      r.built++;
      if (r.last !== undefined) (r.more ??= new Map()).set(r.last, r.lastValue);
    }
    r.last = payload;
    r.lastValue = value;
    return value;
  }

  /** Forgets every result (the end of a flush pass). */
  clear(): void {
    for (const r of this.slots) {
      if (r === undefined) continue;
      r.last = undefined;
      r.lastValue = undefined;
      r.more = undefined;
    }
  }

  /** How many times any slot was computed by this encoder. */
  totalBuilt(): number {
    let n = 0;
    for (const r of this.slots) n += r?.built ?? 0;
    return n;
  }

  /** How many times `slot` was computed by this encoder (tests pin "once per publication" with it). */
  built(slot: FanoutSlot<unknown>): number {
    return this.slots[slot.index]?.built ?? 0;
  }
}
