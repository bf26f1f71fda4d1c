/**
 * The `redis` setting: which Redis topology a URL names, and where it points.
 *
 * - `redis://[user:password@]host:port[/db]` (`rediss://` for TLS): one Redis server.
 * - `redis+cluster://[user:password@]host:port,host:port…` (`rediss+cluster://`): a Redis
 *   Cluster; the listed nodes are seeds, the rest is discovered. The credentials apply to
 *   every node. No database number (a cluster has only database 0).
 * - `redis+sentinel://[user:password@]host:port,host:port…/<master>[/db][?sentinelUsername=…&sentinelPassword=…]`
 *   (`rediss+sentinel://`): a primary with replicas watched by Sentinel; the listed hosts are
 *   sentinels. The userinfo authenticates to the primary and replicas; `sentinelPassword`
 *   (and `sentinelUsername`) to the sentinels when they require it.
 */
export type RedisTopology =
  | { kind: 'standalone'; url: string }
  | { kind: 'cluster'; nodes: HostPort[]; tls: boolean; username?: string; password?: string }
  | {
    kind: 'sentinel'; sentinels: HostPort[]; master: string; db: number; tls: boolean;
    username?: string; password?: string; sentinelUsername?: string; sentinelPassword?: string;
  };

interface HostPort {
  host: string;
  port: number;
}

/** A `redis` URL that cannot be used; the message says why (never with the password). */
class RedisUrlError extends Error {}

const MULTI = /^(rediss?)\+(cluster|sentinel):\/\/(?:([^@/?#]*)@)?([^/?#]+)(\/[^?#]*)?(\?[^#]*)?$/;

function hostPorts(list: string, defaultPort: number): HostPort[] {
  return list.split(',').map((part) => {
    const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(part.trim());
    const port = m?.[2] !== undefined ? Number(m[2]) : defaultPort;
    if (!m || port < 1 || port > 65535) throw new RedisUrlError(`bad host:port "${part}"`);
    return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
  });
}

function credentials(userinfo: string | undefined): { username?: string; password?: string } {
  if (!userinfo) return {};
  const colon = userinfo.indexOf(':');
  const user = decodeURIComponent(colon < 0 ? userinfo : userinfo.slice(0, colon));
  const password = colon < 0 ? undefined : decodeURIComponent(userinfo.slice(colon + 1));
  // `redis://:password@host` is the usual form for a password without an ACL user.
  if (password === undefined) return user ? { password: user } : {};
  return { ...(user ? { username: user } : {}), ...(password ? { password } : {}) };
}

/** Parses a `redis` URL; throws `RedisUrlError` for anything it cannot use. */
export function parseRedisUrl(url: string): RedisTopology {
  if (/^rediss?:\/\//.test(url)) {
    try {
      new URL(url);
    } catch {
      throw new RedisUrlError('not a valid URL');
    }
    return { kind: 'standalone', url };
  }
  const m = MULTI.exec(url);
  if (!m) throw new RedisUrlError('must start with redis://, rediss://, redis+cluster://, rediss+cluster://, redis+sentinel:// or rediss+sentinel://');
  const [, scheme, kind, userinfo, hosts = '', path = '', query = ''] = m;
  const tls = scheme === 'rediss';
  const creds = credentials(userinfo);
  const params = new URLSearchParams(query);
  if (kind === 'cluster') {
    if (path && path !== '/') throw new RedisUrlError('a Redis Cluster has only database 0: remove the path');
    if ([...params.keys()].length) throw new RedisUrlError(`unknown parameter "${[...params.keys()][0]}"`);
    return { kind: 'cluster', nodes: hostPorts(hosts, 6379), tls, ...creds };
  }
  const segments = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (segments.length < 1 || segments.length > 2) throw new RedisUrlError('name the master: redis+sentinel://host:26379/<master>[/db]');
  const db = segments[1] === undefined ? 0 : Number(segments[1]);
  if (!Number.isInteger(db) || db < 0) throw new RedisUrlError(`bad database number "${segments[1]}"`);
  for (const k of params.keys()) {
    if (k !== 'sentinelUsername' && k !== 'sentinelPassword') throw new RedisUrlError(`unknown parameter "${k}" (known: sentinelUsername, sentinelPassword)`);
  }
  const sentinelUsername = params.get('sentinelUsername');
  const sentinelPassword = params.get('sentinelPassword');
  return {
    kind: 'sentinel', sentinels: hostPorts(hosts, 26379), master: segments[0]!, db, tls, ...creds,
    ...(sentinelUsername ? { sentinelUsername } : {}), ...(sentinelPassword ? { sentinelPassword } : {}),
  };
}

/** Where a Redis URL points, without credentials (safe to log). */
export function redisTarget(url: string): string {
  let t: RedisTopology;
  try {
    t = parseRedisUrl(url);
  } catch {
    return '(unparsable redis URL)';
  }
  const list = (hs: HostPort[]) => hs.map((h) => `${h.host}:${h.port}`).join(',');
  switch (t.kind) {
    case 'standalone': {
      const u = new URL(url);
      return `${u.hostname}:${u.port || 6379}${u.pathname && u.pathname !== '/' ? u.pathname : ''}`;
    }
    case 'cluster':
      return `cluster ${list(t.nodes)}`;
    case 'sentinel':
      return `sentinel ${list(t.sentinels)} master ${t.master}`;
    default: {
      const never: never = t;
      return String(never);
    }
  }
}
