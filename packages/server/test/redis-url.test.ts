import { describe, expect, it } from 'vitest';
import { parseRedisUrl, redisTarget } from '../src/redis/url.ts';
import { ConfigError, configFromEnv, parseConfig } from '../src/config.ts';

describe('redis URLs', () => {
  it('one server: redis:// and rediss:// pass through to the client', () => {
    expect(parseRedisUrl('redis://:pw@10.0.0.1:6380/2')).toEqual({ kind: 'standalone', url: 'redis://:pw@10.0.0.1:6380/2' });
    expect(parseRedisUrl('rediss://h').kind).toBe('standalone');
  });

  it('a Redis Cluster: seed nodes, default port 6379, credentials for every node, TLS with rediss', () => {
    expect(parseRedisUrl('redis+cluster://10.0.0.1:7000,10.0.0.2,[::1]:7002')).toEqual({
      kind: 'cluster', tls: false, nodes: [{ host: '10.0.0.1', port: 7000 }, { host: '10.0.0.2', port: 6379 }, { host: '::1', port: 7002 }],
    });
    expect(parseRedisUrl('rediss+cluster://app:p%40ss@h:7000')).toEqual({ kind: 'cluster', tls: true, username: 'app', password: 'p@ss', nodes: [{ host: 'h', port: 7000 }] });
    expect(parseRedisUrl('redis+cluster://:secret@h:7000')).toMatchObject({ password: 'secret' });
  });

  it('Sentinel: sentinels (default port 26379), the master name, a database, and separate sentinel credentials', () => {
    expect(parseRedisUrl('redis+sentinel://:pw@s1:26380,s2/mymaster/3?sentinelPassword=s%20pw&sentinelUsername=watch')).toEqual({
      kind: 'sentinel', tls: false, master: 'mymaster', db: 3, password: 'pw', sentinelPassword: 's pw', sentinelUsername: 'watch',
      sentinels: [{ host: 's1', port: 26380 }, { host: 's2', port: 26379 }],
    });
    expect(parseRedisUrl('rediss+sentinel://s1/m')).toMatchObject({ kind: 'sentinel', tls: true, master: 'm', db: 0 });
  });

  it('refuses what it cannot use, saying why', () => {
    const bad: Array<[string, RegExp]> = [
      ['http://h:6379', /must start with redis:\/\//],
      ['redis+cluster://h:7000/1', /only database 0/],
      ['redis+cluster://h:99999', /bad host:port/],
      ['redis+cluster://h:7000?x=1', /unknown parameter "x"/],
      ['redis+sentinel://s1:26379', /name the master/],
      ['redis+sentinel://s1/m/x', /bad database number/],
      ['redis+sentinel://s1/m?password=x', /unknown parameter "password"/],
      ['redis+tunnel://h', /must start with/],
    ];
    for (const [url, why] of bad) expect(() => parseRedisUrl(url), url).toThrow(why);
  });

  it('names the target without the password (for logs)', () => {
    expect(redisTarget('redis://:secret@h:6380/1')).toBe('h:6380/1');
    expect(redisTarget('redis+cluster://:secret@a:7000,b:7001')).toBe('cluster a:7000,b:7001');
    expect(redisTarget('redis+sentinel://:secret@s:26379/m?sentinelPassword=secret2')).toBe('sentinel s:26379 master m');
  });

  it('the redis setting accepts every topology and names the key of a bad one', () => {
    expect(parseConfig({ redis: 'redis+cluster://a:7000,b:7001' }).storage).toBe('redis');
    expect(parseConfig({ redis: 'redis+sentinel://s:26379/m' }).redis).toBe('redis+sentinel://s:26379/m');
    expect(() => parseConfig({ redis: 'redis+sentinel://s:26379' })).toThrow(ConfigError);
    expect(() => parseConfig({ redis: 'http://x' })).toThrow(/redis/);
  });

  it('redisWaitReplicas: default 0, from SWITCHBOARD_REDIS_WAIT_REPLICAS, bad values refused', () => {
    expect(parseConfig({}).redisWaitReplicas).toBe(0);
    expect(parseConfig({}).redisWaitTimeout).toBe(1000);
    expect(parseConfig(configFromEnv({ SWITCHBOARD_REDIS_WAIT_REPLICAS: '2' })).redisWaitReplicas).toBe(2);
    expect(parseConfig({ redisWaitTimeout: '250ms' }).redisWaitTimeout).toBe(250);
    expect(() => configFromEnv({ SWITCHBOARD_REDIS_WAIT_REPLICAS: 'two' })).toThrow(/SWITCHBOARD_REDIS_WAIT_REPLICAS/);
    expect(() => parseConfig({ redisWaitReplicas: -1 })).toThrow(/redisWaitReplicas/);
  });
});
