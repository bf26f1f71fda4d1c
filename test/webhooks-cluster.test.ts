import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startRedis } from './support/redis.ts';
import { startRedisCluster } from './support/redis-cluster.ts';
import { startPostgres } from './support/postgres.ts';
import { startNatsCluster } from './support/nats.ts';
import { startGatewayProcess, type GatewayProcess } from './support/gateway-process.ts';
import { waitFor } from './support/ports.ts';
import { RawClient, SECRET, connectAuthed } from '../packages/server/test/helpers.ts';
import { WebhookReceiver, type Delivery } from '../packages/server/test/webhook-receiver.ts';

/**
 * Webhooks in cluster mode end to end: a real redis-server (and a real 3-primary Redis
 * Cluster, a real PostgreSQL server with `--postgres`, and a real 3-node NATS JetStream
 * cluster with `--nats`), two real gateway processes
 * (`--redis`) posting to one real HTTP receiver. Each
 * event is sent once for the deployment, however many nodes the users and the channel
 * touch, and a node killed with SIGKILL while events wait in the (Redis) outbox loses none.
 */
const HOOK_SECRET = 'cluster-webhook-secret-0123456789';

/** True when the delivery carries a valid signature of its raw body (HMAC-SHA256 over "<timestamp>.<body>"). */
function signed(d: Delivery): boolean {
  const expected = `v1=${createHmac('sha256', HOOK_SECRET).update(`${d.headers['x-switchboard-timestamp']}.${d.raw}`).digest('hex')}`;
  return d.headers['x-switchboard-signature'] === expected;
}

for (const topology of ['redis-server', '3-primary Redis Cluster', 'PostgreSQL database', '3-node NATS JetStream cluster'] as const) {
  describe(`webhooks on two nodes sharing one ${topology}`, { timeout: 240_000 }, () => {
    const receiver = new WebhookReceiver();
    const dir = mkdtempSync(join(tmpdir(), 'sb-webhooks-cluster-'));
    const clients: RawClient[] = [];
    let stopRedis: () => Promise<void> = async () => {};
    let redisUrl = '';
    let a: GatewayProcess;
    let b: GatewayProcess;
    /** Accepted events as `[type, user or channel]`, in delivery order. */
    const accepted = () => receiver.accepted().map((e) => [e.type, e.user ?? e.channel] as [string, string]);
    const count = (type: string, subject: string) => accepted().filter(([t, s]) => t === type && s === subject).length;
    const has = (type: string, subject: string) => count(type, subject) > 0;
    async function connect(node: GatewayProcess, user: string, channel?: string): Promise<RawClient> {
      const c = await connectAuthed(node.wsUrl, user);
      clients.push(c);
      if (channel) expect((await c.request({ type: 'subscribe', channel })).type).toBe('ack');
      return c;
    }

    beforeAll(async () => {
      await receiver.start();
      const redis = topology === 'redis-server' ? await startRedis() : topology === 'PostgreSQL database' ? await startPostgres()
        : topology === '3-node NATS JetStream cluster' ? await startNatsCluster() : await startRedisCluster(3);
      stopRedis = () => redis.stop();
      redisUrl = redis.url;
      const config = {
        namespaces: { chat: { allowSubscribe: true, allowPublish: true } },
        presence: { offlineGraceMs: 300 },
        shutdown: { reconnectSpreadMs: 0 },
        // Retried until accepted: the kill test refuses events for a while (nothing may be dropped).
        webhooks: { url: receiver.url, secret: HOOK_SECRET, timeoutMs: 2000, retryDelayMs: 50, maxRetryDelayMs: 200, maxAttempts: 100_000 },
      };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      const flag = topology === 'PostgreSQL database' ? '--postgres' : topology === '3-node NATS JetStream cluster' ? '--nats' : '--redis';
      const args = ['--config', join(dir, 'config.json'), flag, redis.url, '--jwt-secret', SECRET];
      [a, b] = await Promise.all([startGatewayProcess({ args, startTimeoutMs: 150_000 }), startGatewayProcess({ args, startTimeoutMs: 150_000 })]);
    }, 240_000);

    afterAll(async () => {
      for (const c of clients) c.close();
      await Promise.all([a?.kill(), b?.kill()]);
      await stopRedis();
      await receiver.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('each user is online once and offline once, the channel occupied once and vacated once, despite two 500 answers', async () => {
      // The first event to arrive is refused twice (the others go on: events are ordered per channel and per user).
      let firstId: string | undefined;
      let refused = 0;
      receiver.answer = (_n, body) => ((firstId ??= body.id) === body.id && refused++ < 2 ? 500 : 204);
      const on = [
        await connect(a, 'alice', 'chat:lobby'),
        await connect(b, 'alice', 'chat:lobby'),
        await connect(a, 'bob', 'chat:lobby'),
        await connect(b, 'bob', 'chat:lobby'),
      ];
      await receiver.until(() => has('user.online', 'alice') && has('user.online', 'bob') && has('channel.occupied', 'chat:lobby'));
      for (const c of on) c.close();
      await receiver.until(() => has('user.offline', 'alice') && has('user.offline', 'bob') && has('channel.vacated', 'chat:lobby'));
      // A marker enqueued after everything above: both nodes polled the outbox since.
      const zed = await connect(b, 'zed', 'chat:marker');
      await receiver.until(() => has('channel.occupied', 'chat:marker'));
      zed.close();
      await receiver.until(() => has('channel.vacated', 'chat:marker') && has('user.offline', 'zed'));

      for (const [type, subject] of [['user.online', 'alice'], ['user.online', 'bob'], ['channel.occupied', 'chat:lobby'], ['user.offline', 'alice'], ['user.offline', 'bob'], ['channel.vacated', 'chat:lobby']]) {
        expect(count(type!, subject!), `${type} ${subject}`).toBe(1);
      }
      const order = accepted().map(([t, s]) => `${t} ${s}`);
      expect(order.indexOf('user.online alice')).toBeLessThan(order.indexOf('user.offline alice'));
      expect(order.indexOf('channel.occupied chat:lobby')).toBeLessThan(order.indexOf('channel.vacated chat:lobby'));
      // The first event was refused twice, then accepted: three deliveries of one id.
      expect(receiver.deliveries.filter((d) => d.body.id === firstId).map((d) => d.status)).toEqual([500, 500, 204]);
      for (const d of receiver.deliveries) {
        expect(signed(d)).toBe(true);
        expect(d.headers['x-switchboard-event-id']).toBe(d.body.id);
      }
      const ids = receiver.accepted().map((e) => e.id);
      expect(new Set(ids).size).toBe(ids.length);
      // Both nodes delivered (from one outbox): their counts add up to what was accepted, once.
      const metric = async (node: GatewayProcess, name: string) => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`${node.url}/metrics`)).text())?.[1]);
      await waitFor(async () => (await metric(a, 'switchboard_webhooks_delivered_total')) + (await metric(b, 'switchboard_webhooks_delivered_total')) === ids.length, 10_000, 'the delivery counts');
      expect([await metric(a, 'switchboard_webhooks_queued'), await metric(b, 'switchboard_webhooks_queued')]).toEqual([0, 0]);
    });

    if (topology !== '3-primary Redis Cluster') {
      it('a node killed with SIGKILL while its events wait in the outbox loses none: the other node sends them, and settles its user and channel', async () => {
        receiver.answer = () => 503;
        const seen = receiver.deliveries.length;
        await connect(a, 'carol', 'chat:room');
        // Both events are in the outbox; the first one was refused (the second waits behind it).
        await receiver.until(() => receiver.deliveries.slice(seen).some((d) => d.body.type === 'user.online' && d.body.user === 'carol'));
        await a.kill();
        receiver.answer = () => 204;
        await receiver.until(() => has('user.online', 'carol') && has('channel.occupied', 'chat:room'));
        // The dead node's entries expire; the surviving node settles them, once.
        await receiver.until(() => has('channel.vacated', 'chat:room') && has('user.offline', 'carol'), 120_000);
        // The restarted node delivers from the same outbox.
        await a.restart();
        const dave = await connect(a, 'dave');
        await receiver.until(() => has('user.online', 'dave'));
        dave.close();
        for (const [type, subject] of [['user.online', 'carol'], ['channel.occupied', 'chat:room'], ['channel.vacated', 'chat:room'], ['user.offline', 'carol'], ['user.online', 'dave']]) {
          expect(count(type!, subject!), `${type} ${subject}`).toBe(1);
        }
        for (const d of receiver.deliveries) expect(signed(d)).toBe(true);
      });
    }

    if (topology === 'redis-server') {
      it('a rolling restart does not flap: a node stopped with SIGTERM whose user and channel moved to the other node sends no offline or vacated', async () => {
        receiver.answer = () => 204;
        await connect(a, 'erin', 'chat:roll');
        await receiver.until(() => has('user.online', 'erin') && has('channel.occupied', 'chat:roll'));
        const redis = new Redis(redisUrl);
        let onB: RawClient;
        try {
          // The live nodes before: the stopped one is the one that disappears.
          const live = await redis.zrange('sb:{webhooks}:live', '0', '-1');
          expect(live.length).toBeGreaterThan(0);
          expect(await a.stop()).toBe(0);
          // The client reconnects to the other node (well within the 15 s liveness expiry).
          onB = await connect(b, 'erin', 'chat:roll');
          // The stopped node is settled by the other once its liveness expires; then it is forgotten.
          await waitFor(async () => {
            const now = new Set(await redis.zrange('sb:{webhooks}:live', '0', '-1'));
            return live.some((node) => !now.has(node));
          }, 60_000, 'the stopped node to be settled');
        } finally {
          redis.disconnect();
        }
        // A marker enqueued after anything the settlement could have enqueued; then the outbox empties.
        await connect(b, 'yan', 'chat:marker2');
        await receiver.until(() => has('channel.occupied', 'chat:marker2'));
        await waitFor(async () => /^switchboard_webhooks_queued 0$/m.test(await (await fetch(`${b.url}/metrics`)).text()), 30_000, 'an empty outbox');
        expect([count('user.offline', 'erin'), count('channel.vacated', 'chat:roll')]).toEqual([0, 0]);
        onB!.close();
        await receiver.until(() => has('user.offline', 'erin') && has('channel.vacated', 'chat:roll'));
        for (const [type, subject] of [['user.online', 'erin'], ['channel.occupied', 'chat:roll'], ['user.offline', 'erin'], ['channel.vacated', 'chat:roll']]) {
          expect(count(type!, subject!), `${type} ${subject}`).toBe(1);
        }
      });
    }
  });
}
