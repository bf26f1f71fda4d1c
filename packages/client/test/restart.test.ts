import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SECRET, token } from '../../server/test/helpers.ts';
import { startGatewayProcess, type GatewayProcess } from '../../../test/support/gateway-process.ts';
import { waitFor } from '../../../test/support/ports.ts';
import type { Publication } from '../src/index.ts';
import { NAMESPACES, closeClients, makeClient, record } from './helpers.ts';

let gp: GatewayProcess | undefined;
afterEach(async () => {
  closeClients();
  await gp?.kill();
  gp = undefined;
});

describe('gateway process restarted mid-stream (SQLite history)', { timeout: 120_000 }, () => {
  for (const how of ['crash (kill -9)', 'graceful restart (SIGTERM)'] as const) {
    it(`${how}: every acknowledged publication reaches the app once, in order; none is lost`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sb-restart-'));
      const config = join(dir, 'config.json');
      writeFileSync(config, JSON.stringify({ namespaces: NAMESPACES, shutdown: { reconnectSpreadMs: 100 } }));
      gp = await startGatewayProcess({ args: ['--config', config, '--storage', `sqlite:${join(dir, 'sb.db')}`], env: { SWITCHBOARD_JWT_SECRET: SECRET } });
      const pub = makeClient(gp.wsUrl, { token: await token('writer') });
      const sub = makeClient(gp.wsUrl, { token: await token('reader') });
      const pubEv = record(pub);
      const room = sub.subscribe('chat:durable');
      const got: Publication[] = [];
      const events: string[] = [];
      room.on('message', (m) => got.push(m));
      room.on('recovered', () => events.push('recovered'));
      room.on('gap', () => events.push('gap'));
      await room.ready();
      const acked: number[] = [];
      let n = 0;
      for (let batch = 0; batch < 8; batch++) {
        const calls = Array.from({ length: 10 }, () => pub.publish('chat:durable', { n: ++n }));
        if (batch === 3) {
          if (how === 'crash (kill -9)') await gp.kill();
          else await gp.stop();
          await gp.restart();
        }
        for (const r of await Promise.all(calls)) acked.push(r.offset!);
      }
      expect(pubEv.count('disconnected')).toBeGreaterThanOrEqual(1);
      expect([...acked].sort((a, b) => a - b)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
      await waitFor(() => got.length >= 80, 15_000, 'all 80 publications at the subscriber');
      expect(got.map((m) => m.offset)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
      expect(got.map((m) => (m.data as { n: number }).n).sort((a, b) => a - b)).toEqual(Array.from({ length: 80 }, (_, i) => i + 1));
      expect(events).toContain('recovered');
      expect(events).not.toContain('gap');
    });
  }
});
