import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, token } from '../../server/test/helpers.ts';
import { sleep, waitFor } from '../../../test/support/ports.ts';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.ts';
import { NAMESPACES, closeClients, makeClient, record, until } from './helpers.ts';

type Gateway = Awaited<ReturnType<typeof startGateway>>;
const gateways: Gateway[] = [];
const proxies: TcpProxy[] = [];

async function behindProxy(heartbeatIntervalMs: number): Promise<TcpProxy> {
  const gw = await startGateway({ namespaces: NAMESPACES, heartbeat: { intervalMs: heartbeatIntervalMs, timeoutMs: 500 } });
  const proxy = await startTcpProxy(Number(new URL(gw.url).port));
  gateways.push(gw);
  proxies.push(proxy);
  return proxy;
}

afterEach(() => closeClients());
afterAll(async () => {
  for (const p of proxies) await p.close();
  for (const g of gateways) await g.close();
});

describe('a server that does not ping (auth_success.ping = 0)', () => {
  let proxy: TcpProxy;
  beforeAll(async () => {
    proxy = await behindProxy(0);
  });

  it('the client pings it, stays connected while answered, and detects a half-open socket', async () => {
    const c = makeClient(proxy.wsUrl, { token: await token('quiet'), clientPingMs: 100, heartbeatGraceMs: 300 });
    const ev = record(c);
    await until(c, 'connected');
    // Ten ping intervals, each answered by a pong: the watchdog never fires.
    await sleep(1000);
    expect(ev.count('disconnected')).toBe(0);
    proxy.stall();
    await waitFor(() => ev.log.includes('disconnected:1006:heartbeat_timeout'), 10_000, 'half-open socket detected');
    await waitFor(() => ev.count('connected') === 2, 10_000, 'reconnected');
  });

  it('clientPingMs: 0 turns client pings off: a stalled socket is then not noticed by the client', async () => {
    const c = makeClient(proxy.wsUrl, { token: await token('unwatched'), clientPingMs: 0, heartbeatGraceMs: 100 });
    const ev = record(c);
    await until(c, 'connected');
    proxy.stall();
    await sleep(800);
    expect(ev.count('disconnected')).toBe(0);
  });
});

describe('a page that wakes up (visibilitychange)', () => {
  it('probes the connection with a ping and drops it at once when nothing answers, long before the heartbeat would', async () => {
    const proxy = await behindProxy(60_000); // server pings only every minute
    const doc = Object.assign(new EventTarget(), { visibilityState: 'hidden' });
    const win = Object.assign(new EventTarget(), { document: doc });
    const c = makeClient(proxy.wsUrl, { token: await token('sleepy'), heartbeatGraceMs: 60_000, wakeProbeMs: 300, window: win });
    const ev = record(c);
    await until(c, 'connected');
    // Waking with a healthy socket: the probe is answered and nothing happens.
    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    await sleep(600);
    expect(ev.count('disconnected')).toBe(0);
    // The laptop slept and the network died meanwhile: the probe goes unanswered.
    doc.visibilityState = 'hidden';
    doc.dispatchEvent(new Event('visibilitychange'));
    proxy.stall();
    doc.visibilityState = 'visible';
    doc.dispatchEvent(new Event('visibilitychange'));
    await waitFor(() => ev.log.includes('disconnected:1006:heartbeat_timeout'), 10_000, 'dead connection noticed on wake');
    await waitFor(() => ev.count('connected') === 2, 10_000, 'reconnected');
  });
});
