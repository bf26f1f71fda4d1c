import { afterAll, beforeAll, describe } from 'vitest';
import type { Connection } from '../src/connection/connection.ts';
import { runTransportContract, type ContractClient, type OpenedTransport } from './transport.contract.ts';
import { RawClient, startGateway, token } from './helpers.ts';
import { HttpRawClient } from './http-client.ts';
import { unitGateway } from './unit/test-transport.ts';
import { waitFor } from '../../../test/support/ports.ts';

type Gateway = Awaited<ReturnType<typeof startGateway>>;

/** The gateway's connection that appeared since `before` (the one a client just opened). */
async function newConnection(gw: Gateway, before: ReadonlySet<Connection>): Promise<Connection> {
  return waitFor(() => [...gw.node.connections].find((c) => !before.has(c)), 10_000, 'the new connection');
}

/** One gateway per transport, shared by its contract cases; no limits in the way of a contract burst. */
function sharedGateway(): { get(): Gateway } {
  let gw: Gateway;
  beforeAll(async () => {
    gw = await startGateway({ limits: { commandsPerSecond: 10_000, maxQueueBytes: 64 * 1024 * 1024, handshakeTimeoutMs: 1000 }, transports: { pollTimeoutMs: 1500 } });
  });
  afterAll(async () => {
    await gw?.close();
  });
  return { get: () => gw };
}

describe('WebSocket', () => {
  const shared = sharedGateway();
  runTransportContract({
    async open(): Promise<OpenedTransport> {
      const gw = shared.get();
      const before = new Set(gw.node.connections);
      const c = new RawClient(`${gw.wsUrl}?token=${await token('contract')}`);
      await c.opened;
      const conn = await newConnection(gw, before);
      const client: ContractClient = {
        frames: c.frames,
        send: (f) => c.send(f),
        closed: () => c.waitClose(10_000),
        pause: () => c.socket!.pause(),
        resume: () => c.socket!.resume(),
        drop: () => c.socket!.destroy(),
      };
      return { client, conn };
    },
  });
});

for (const kind of ['stream', 'sse', 'poll'] as const) {
  describe(kind === 'stream' ? 'HTTP streaming' : kind === 'sse' ? 'server-sent events' : 'long-polling', () => {
    const shared = sharedGateway();
    runTransportContract({
      async open(): Promise<OpenedTransport> {
        const gw = shared.get();
        const before = new Set(gw.node.connections);
        const c = new HttpRawClient(gw.url, kind, `token=${await token('contract')}`);
        await c.ready;
        const conn = await newConnection(gw, before);
        // One `/send` at a time, each after the previous one was answered (docs/transports.md).
        let sending = Promise.resolve();
        const client: ContractClient = {
          frames: c.frames,
          send: (f) => void (sending = sending.then(() => c.send(f)).then(() => {}, () => {})),
          closed: () => c.waitClose(10_000),
          pause: () => c.pause(),
          resume: () => c.resume(),
          drop: () => c.drop(),
        };
        return { client, conn };
      },
    });
  });
}

describe('TestTransport (the unit layer\'s)', () => {
  let gw: Awaited<ReturnType<typeof unitGateway>>;
  beforeAll(async () => {
    gw = await unitGateway({ limits: { commandsPerSecond: 10_000 } });
  });
  afterAll(async () => {
    await gw?.close();
  });
  runTransportContract({
    async open(): Promise<OpenedTransport> {
      const c = gw.connect();
      const client: ContractClient = {
        frames: c.t.frames,
        send: (f) => c.send(f as Record<string, unknown>),
        closed: () => c.t.closed(),
        // The unit layer's client takes what is sent at once; a paused one leaves it buffered.
        pause: () => void (c.t.bufferedAmount = 1),
        resume: () => c.t.drain(),
        drop: () => c.conn.closed(1006),
      };
      return { client, conn: c.conn };
    },
  });
});
