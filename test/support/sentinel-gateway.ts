import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedisSentinel, type RedisSentinelProcess } from './redis-cluster.ts';
import { startGatewayProcess, type GatewayProcess } from './gateway-process.ts';
import { SECRET } from '../../packages/server/test/helpers.ts';

import { apiCaller, type ApiAnswer } from './retrying-publishers.ts';

export type { ApiAnswer } from './retrying-publishers.ts';

/**
 * A primary, two replicas and a sentinel on free ports, and a real gateway process on
 * `redis+sentinel://` with `SWITCHBOARD_REDIS_WAIT_REPLICAS=1` and the given config; `api`
 * calls its server API with the key. `stop` ends both.
 */
export async function startSentinelGateway(o: { config: unknown; apiKey: string }): Promise<{ group: RedisSentinelProcess; gw: GatewayProcess; api(method: string, body: unknown): Promise<ApiAnswer>; stop(): Promise<void> }> {
  const group = await startRedisSentinel({ replicaCount: 2 });
  const dir = mkdtempSync(join(tmpdir(), 'sb-sentinel-'));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(o.config));
  let gw: GatewayProcess;
  try {
    gw = await startGatewayProcess({
      args: ['--config', join(dir, 'config.json'), '--redis', group.url, '--jwt-secret', SECRET, '--api-key', o.apiKey],
      env: { SWITCHBOARD_REDIS_WAIT_REPLICAS: '1' },
      startTimeoutMs: 150_000,
    });
  } catch (err) {
    await group.stop();
    throw err;
  }
  return {
    group,
    gw,
    api: apiCaller(gw.url, o.apiKey),
    async stop() {
      await gw.kill();
      await group.stop();
    },
  };
}
