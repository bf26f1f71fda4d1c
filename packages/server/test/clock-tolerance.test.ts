import { afterEach, describe, expect, it } from 'vitest';
import { RawClient, startGateway, token } from './helpers.ts';

/** docs/protocol.md: `exp` is enforced with `auth.clockToleranceSec`, at authentication and on the live connection alike. */
const clients: RawClient[] = [];
const servers: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  for (const s of servers.splice(0)) await s.close();
});

async function connect(wsUrl: string, ttlSec: number): Promise<RawClient> {
  const c = new RawClient(`${wsUrl}?token=${await token('alice', { ttlSec })}`);
  clients.push(c);
  return c;
}

describe('auth.clockToleranceSec', () => {
  it('a token expired by less than the tolerance is accepted and the connection stays up until exp + tolerance', async () => {
    const gw = await startGateway({ auth: { clockToleranceSec: 60 }, heartbeat: { intervalMs: 200, timeoutMs: 5000 }, namespaces: { chat: { allowSubscribe: true } } });
    servers.push(gw);
    const c = await connect(gw.wsUrl, -20); // expired 20 s ago, within the 60 s tolerance
    expect((await c.next((f) => f.type.startsWith('auth'))).type).toBe('auth_success');
    // The heartbeat checks expiry before each ping: three pings later the connection is still up.
    for (let i = 1; i <= 3; i++) await c.next((f) => f.type === 'ping' && c.frames.filter((x) => x.type === 'ping').length >= i, 10_000);
    expect(await c.request({ type: 'subscribe', channel: 'chat:a' })).toMatchObject({ type: 'ack' });
    expect(c.closeCode).toBeUndefined();
  });

  it('a token expired by more than the tolerance is refused; a live one closes 3005 once exp + tolerance has passed', async () => {
    const gw = await startGateway({ auth: { clockToleranceSec: 1, expiringNoticeMs: 0 } });
    servers.push(gw);
    const old = await connect(gw.wsUrl, -30);
    expect(await old.next((f) => f.type.startsWith('auth'))).toMatchObject({ type: 'auth_failed', reason: 'token_expired' });
    const live = await connect(gw.wsUrl, 1);
    expect((await live.next((f) => f.type.startsWith('auth'))).type).toBe('auth_success');
    expect(await live.waitClose(15_000)).toBe(3005);
  });
});
