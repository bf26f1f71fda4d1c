import { describe, expect, it } from 'vitest';
import { DevLenience } from '../src/lenience.ts';
import type { Logger } from '../src/logger.ts';

/** A logger that keeps its warnings. */
function recorder(): { log: Logger; lines: Array<{ fields: Record<string, unknown>; msg: string }> } {
  const lines: Array<{ fields: Record<string, unknown>; msg: string }> = [];
  const log = { warn: (fields: Record<string, unknown>, msg: string) => lines.push({ fields, msg }) } as unknown as Logger;
  return { log, lines };
}

describe('DevLenience', () => {
  it('writes one line per kind and namespace a minute, then one with the count of those left out', () => {
    const { log, lines } = recorder();
    let now = 1_000_000;
    const dev = new DevLenience(log, () => now);
    dev.allowed('publish_grant', 'news', 'news:ticker');
    dev.allowed('publish_grant', 'news', 'news:sport');
    dev.allowed('publish_grant', 'news', 'news:ticker');
    dev.allowed('subscribe_grant', 'news', 'news:ticker'); // another kind: its own line
    dev.allowed('publish_grant', 'chat', 'chat:lobby'); // another namespace: its own line
    expect(lines.map((l) => l.fields.channel)).toEqual(['news:ticker', 'news:ticker', 'chat:lobby']);
    expect(lines[0]!.msg).toContain("no grant to publish to news:ticker (permission_denied): the token needs \"publish\": [\"news:*\"]");
    expect(lines[1]!.msg).toContain('no grant to subscribe to news:ticker');
    now += 60_000;
    dev.allowed('publish_grant', 'news', 'news:weather');
    expect(lines).toHaveLength(4);
    expect(lines[3]!.fields).toEqual({ channel: 'news:weather', alsoAllowedSinceLastLine: 2 });
  });

  it('names the missing namespace, and clips what a client chose', () => {
    const { log, lines } = recorder();
    const dev = new DevLenience(log);
    dev.allowed('unconfigured_namespace', 'x'.repeat(300), `${'x'.repeat(300)}:a`);
    expect(lines[0]!.msg).toMatch(/namespace "x+…\(\+100 chars\)" is not configured \(unknown_channel\)/);
    expect(String(lines[0]!.fields.channel).length).toBeLessThan(250);
  });
});
