/** The admin API as the page calls it (same origin, the session cookie goes by itself). */

export interface StatsSample {
  t: number; connections: number; users: number; channels: number; subscriptions: number;
  publications: number; deliveries: number; bytesIn: number; bytesOut: number; errors: number;
  /** Error replies per second by code (codes seen in the interval). */
  errorsByCode?: Record<string, number>;
  p99: number | null; rss: number; heapUsed: number; cpu: number;
}
interface NodeHeader { id: string; name: string; pid: number; version: string; startedAt: number; broker: string; status: string; seenAt: number }
interface NodeStats { node: NodeHeader; samples: StatsSample[] }
/** The transactional outbox's lag (docs/postgres.md), when the gateway consumes one. */
interface OutboxLag { table: string; rows: number; seconds: number }
export interface Overview { now: number; intervalMs: number; cluster: StatsSample[]; nodes: NodeStats[]; outbox?: OutboxLag }
export interface ConnectionView {
  client: string; user: string; node: string; transport: string; ip: string; since: number;
  anonymous: boolean; channels: string[]; channelCount: number; userAgent?: string;
}
interface Publication { channel: string; data: unknown; offset?: number; epoch?: string; from?: string; ts: number }
export interface ChannelDetail {
  channel: string;
  subscribers: number;
  presence: { users: Array<{ user: string; info?: unknown; connections: number }> } | { error: string };
  history: { epoch: string; offset: number; publications: Publication[] } | { error: string };
}

/** A connection event of a node: joined, left, refused (at authentication), closed (before it). */
export interface ConnectionEvent {
  node: string; seq: number; t: number; kind: 'joined' | 'left' | 'refused' | 'closed';
  client: string; user?: string; transport: string; code?: number; reason?: string;
}

/** Whether a user is blocked (until when, why: Unix s) and since when its tokens are refused. */
export interface AccessState { user: string; blocked: boolean; until?: number; reason?: string; revokedBefore?: number }

/** An answer other than 2xx: its status and the API's message. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** Called when an answer says the session is gone (401): the page shows the login again. */
let onUnauthorized: () => void = () => {};
export function whenLoggedOut(fn: () => void): void {
  onUnauthorized = fn;
}

async function call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const r = await fetch(`/admin/api/${path}`, {
    method,
    credentials: 'same-origin',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : {};
  } catch {
    json = {};
  }
  if (!r.ok) {
    if (r.status === 401 && path !== 'login') onUnauthorized();
    throw new HttpError(r.status, json?.error?.message ?? `${r.status} ${r.statusText}`);
  }
  return json as T;
}

const qs = (o: Record<string, string | number | undefined>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(o)) if (v !== undefined && v !== '') p.set(k, String(v));
  const s = p.toString();
  return s ? `?${s}` : '';
};

export const api = {
  session: () => call<{ expiresAt: number }>('GET', 'session'),
  login: (password: string) => call<{ expiresAt: number }>('POST', 'login', { password }),
  logout: () => call<object>('POST', 'logout', {}),
  overview: () => call<Overview>('GET', 'overview'),
  channels: (pattern?: string) => call<{ channels: Array<{ channel: string; subscribers: number }>; total: number }>('GET', `channels${qs({ pattern })}`),
  channel: (name: string) => call<ChannelDetail>('GET', `channel${qs({ name })}`),
  publish: (channel: string, data: unknown) => call<{ offset?: number; epoch?: string }>('POST', 'publish', { channel, data }),
  events: (since: number) => call<{ events: ConnectionEvent[]; missing: string[] }>('GET', `events${qs({ since: since > 0 ? String(since) : undefined })}`),
  connections: (user?: string) => call<{ connections: ConnectionView[]; missing: string[] }>('GET', `connections${qs({ user })}`),
  disconnect: (user: string) => call<object>('POST', 'disconnect', { user }),
  access: (user: string) => call<AccessState>('POST', 'access', { user }),
  /** `ttl` in seconds; absent: until unblocked. */
  block: (user: string, ttl?: number, reason?: string) =>
    call<object>('POST', 'block', { user, ...(ttl !== undefined ? { ttl } : {}), ...(reason !== undefined ? { reason } : {}) }),
  unblock: (user: string) => call<object>('POST', 'unblock', { user }),
  revoke: (user: string) => call<object>('POST', 'revoke', { user }),
};
