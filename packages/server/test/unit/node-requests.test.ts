import { afterEach, describe, expect, it } from 'vitest';
import type { BrokerHandler, ControlMessage } from '../../src/broker/broker.ts';
import { MemoryBroker, MemoryBus } from '../../src/broker/memory-broker.ts';
import { NodeRequests } from '../../src/cluster/node-requests.ts';
import { createLogger } from '../../src/logger.ts';

const log = createLogger('silent');
let all: NodeRequests[] = [];
afterEach(() => {
  for (const r of all) r.close();
  all = [];
});

/** Nodes on one memory bus, each with its `NodeRequests` wired as `Node.onControl` wires it. */
function nodes(ids: string[], o: { deaf?: string[]; failing?: boolean } = {}): NodeRequests[] {
  const bus = new MemoryBus();
  return ids.map((id) => {
    let requests: NodeRequests;
    const handler: BrokerHandler = {
      onPublication() {},
      onControl(msg: ControlMessage) {
        if (o.deaf?.includes(id)) return;
        if (msg.type === 'request') requests.onRequest(msg);
        else if (msg.type === 'reply') requests.onReply(msg);
      },
    };
    const broker = new MemoryBroker(handler, { bus, nodeId: id });
    requests = new NodeRequests({
      nodeId: id, log,
      publish: o.failing ? async () => { throw new Error('broker down'); } : (m, to) => broker.publishControl(m, to),
    });
    all.push(requests);
    return requests;
  });
}

describe('NodeRequests', () => {
  it('asks one node\'s service and gets its answer (sync or async), the asker\'s id as `from`', async () => {
    const [a, b] = nodes(['n_a', 'n_b']);
    const seen: string[] = [];
    b!.serve('echo', (body, from) => {
      seen.push(from);
      return { got: body };
    });
    b!.serve('later', async (body) => ({ later: body }));
    expect(await a!.request('n_b', 'echo', { x: 1 }, 1000)).toEqual({ kind: 'reply', body: { got: { x: 1 } } });
    expect(await a!.request('n_b', 'later', 2, 1000)).toEqual({ kind: 'reply', body: { later: 2 } });
    expect(seen).toEqual(['n_a']);
  });

  it('reaches only the addressed node, itself included', async () => {
    const [a, b, c] = nodes(['n_a', 'n_b', 'n_c']);
    const calls: string[] = [];
    for (const [n, id] of [[a, 'n_a'], [b, 'n_b'], [c, 'n_c']] as const) n!.serve('who', () => calls.push(id) && id);
    expect(await a!.request('n_c', 'who', null, 1000)).toEqual({ kind: 'reply', body: 'n_c' });
    expect(await a!.request('n_a', 'who', null, 1000)).toEqual({ kind: 'reply', body: 'n_a' });
    expect(calls).toEqual(['n_c', 'n_a']);
  });

  it('says why there is no answer: unknown service, a failing service, no such node, a broker that fails', async () => {
    const [a, b] = nodes(['n_a', 'n_b']);
    b!.serve('boom', () => {
      throw new Error('service bug');
    });
    expect(await a!.request('n_b', 'nothing-here', null, 1000)).toEqual({ kind: 'error', error: 'unknown_service' });
    expect(await a!.request('n_b', 'boom', null, 1000)).toEqual({ kind: 'error', error: 'failed' });
    expect(await a!.request('n_gone', 'boom', null, 50)).toEqual({ kind: 'timeout' });
    const [down] = nodes(['n_down'], { failing: true });
    expect(await down!.request('n_b', 'boom', null, 1000)).toEqual({ kind: 'unreachable' });
  });

  it('refuses to serve one service twice', () => {
    const [a] = nodes(['n_a']);
    a!.serve('s', () => 1);
    expect(() => a!.serve('s', () => 2)).toThrow(/already served/);
  });

  it('surveys every expected node, and names the silent ones', async () => {
    const [a, b, c] = nodes(['n_a', 'n_b', 'n_c'], { deaf: ['n_c'] });
    for (const [n, id] of [[a, 'n_a'], [b, 'n_b'], [c, 'n_c']] as const) n!.serve('count', () => id.length);
    const r = await a!.survey('count', null, ['n_a', 'n_b', 'n_c'], 100);
    expect(Object.fromEntries(r)).toEqual({ n_a: { kind: 'reply', body: 3 }, n_b: { kind: 'reply', body: 3 }, n_c: { kind: 'timeout' } });
    // Nodes not expected are ignored; an empty survey answers at once.
    expect(Object.fromEntries(await a!.survey('count', null, ['n_b'], 1000))).toEqual({ n_b: { kind: 'reply', body: 3 } });
    expect((await a!.survey('count', null, [], 1000)).size).toBe(0);
  });

  it('answers what still waits `unreachable` when closed, and every later request too', async () => {
    const [a] = nodes(['n_a', 'n_b'], { deaf: ['n_b'] });
    const waiting = a!.request('n_b', 's', null, 60_000);
    a!.close();
    expect(await waiting).toEqual({ kind: 'unreachable' });
    expect(await a!.request('n_b', 's', null, 60_000)).toEqual({ kind: 'unreachable' });
  });
});
