import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseDuration } from './duration.ts';
import { parseRedisUrl } from './redis/url.ts';
import { WEBHOOK_EVENTS } from './webhooks/webhook-outbox.ts';
import { TABLE_NAME as OUTBOX_TABLE_NAME } from './outbox/outbox-ddl.ts';

const duration = z.union([z.number(), z.string()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (ms === undefined) {
    ctx.addIssue({ code: 'custom', message: `not a duration: ${JSON.stringify(v)} (use milliseconds or "30s", "5m", "24h", "7d")` });
    return z.NEVER;
  }
  return ms;
});

const Algorithm = z.enum(['HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'ES256', 'ES384', 'EdDSA']);

const NamespaceSchema = z.strictObject({
  /** Keep a stream per channel: `size` publications at most, each for `ttl` at most. Absent: no history. */
  history: z.strictObject({ size: z.int().min(1).max(1_000_000), ttl: duration }).nullish(),
  presence: z.boolean().default(false),
  joinLeave: z.boolean().default(false),
  /** Clients may publish (still subject to token grants unless `allowPublish`). */
  clientPublish: z.boolean().default(true),
  /** `send` between users (personal channels). */
  directMessages: z.boolean().default(true),
  /** Any authenticated connection may subscribe without a `channels` grant in its token. */
  allowSubscribe: z.boolean().default(false),
  /** Any authenticated connection may publish without a `publish` grant (needs `clientPublish`). */
  allowPublish: z.boolean().default(false),
  /** SSO policy for logins that use this namespace's channels (overrides `sessions`). */
  sessions: z.strictObject({ maxPerUser: z.int().min(1).nullable(), onLimit: z.enum(['kick_oldest', 'reject_new']) }).partial().nullish(),
  /** Send a `publication` webhook for every publication in this namespace (needs "publication" in `webhooks.events`). */
  publicationWebhooks: z.boolean().default(false),
  /**
   * `fossil`: subscribers that ask for it (`subscribe` with `delta: "fossil"`) receive each
   * publication as a Fossil delta against the channel's previous one when that is smaller.
   */
  delta: z.enum(['fossil']).nullable().default(null),
  /**
   * Conflation (docs/protocol.md#conflation): live publications reach each subscriber at most
   * once per `intervalMs`, only the latest per value of tag `key`; a subscriber that cannot
   * keep up gets the latest values when it can instead of being closed 3008.
   */
  conflation: z.strictObject({
    key: z.string().min(1).max(64).regex(/^[A-Za-z_][A-Za-z0-9_.:-]*$/, 'a tag name: a letter or _, then letters, digits, _ - . :'),
    intervalMs: z.int().min(10).max(60_000),
  }).nullable().default(null),
  /**
   * Subscribers may change their presence info on the live connection (`presence_update`;
   * needs `presence`): stored for `presence` answers, announced as `update` with `joinLeave`.
   */
  presenceUpdates: z.boolean().default(false),
  /** Namespace `#` only: subscribe each connection to its own `#<userId>` on authentication (default true). */
  autoSubscribe: z.boolean().optional(),
});
export type NamespaceOptions = z.output<typeof NamespaceSchema>;

const HookSchema = z.strictObject({
  url: z.url().nullable().default(null),
  timeoutMs: z.int().min(1).max(60_000).default(1000),
  /** Headers of the upgrade request forwarded to the hook (lower-case names). */
  forwardHeaders: z.array(z.string().toLowerCase()).default(['cookie']),
  /** What to do when the backend fails or times out: deny the action, or allow it. */
  onError: z.enum(['deny', 'allow']).default('deny'),
});

/** NATS server URLs, comma-separated: `nats://host:4222`, `tls://host:4222` or `host:4222`. */
const natsUrls = z.string().refine((v) => v.split(',').every((u) => {
  const t = u.trim();
  if (t === '') return false;
  try {
    return ['nats:', 'tls:', 'ws:', 'wss:'].includes(new URL(t.includes('://') ? t : `nats://${t}`).protocol);
  } catch {
    return false;
  }
}), { message: 'expected NATS server URLs, comma-separated: nats://host:4222,nats://host2:4222' });

/** A PostgreSQL connection URL (`postgres://` or `postgresql://`). */
const postgresUrl = z.string().refine((v) => {
  try {
    return ['postgres:', 'postgresql:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, { message: 'expected a PostgreSQL URL: postgres://user:password@host:5432/database' });

/** The events a Pusher app's webhooks may ask for (Pusher's names). */
const PUSHER_WEBHOOK_EVENTS = ['channel_occupied', 'channel_vacated', 'member_added', 'member_removed', 'client_event', 'cache_miss'] as const;

/** One Pusher Channels app (docs/pusher.md): its credentials and the namespace its channels live in. */
const PusherAppSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'app ids are 1-64 of A-Z a-z 0-9 _ . -'),
  key: z.string().regex(/^[A-Za-z0-9_.-]{1,128}$/, 'app keys are 1-128 of A-Z a-z 0-9 _ . -'),
  secret: z.string().min(8, 'the app secret must be at least 8 characters'),
  /** Pusher channel `orders` of this app is Switchboard channel `<namespace>:orders`. */
  namespace: z.string().regex(/^[A-Za-z0-9_-]+$/, 'a namespace name: A-Z a-z 0-9 _ -'),
  /** `client-*` events on private and presence channels. */
  clientEvents: z.boolean().default(false),
  /** Client events per connection per second (Pusher's: 10); past it `pusher:error` 4301. */
  clientEventsPerSecond: z.int().min(1).max(10_000).default(10),
  /** Members of one presence channel (Pusher's: 100); more than 100 is an extension. */
  maxPresenceMembers: z.int().min(1).max(1_000_000).default(100),
  /** Bytes of one event's data (Pusher's: 10 KB); more is an extension (at most `limits.maxFrameBytes` for client events). */
  maxEventBytes: z.int().min(64).max(16 * 1024 * 1024).default(10_240),
  webhooks: z.strictObject({
    url: z.url().nullable().default(null),
    events: z.array(z.enum(PUSHER_WEBHOOK_EVENTS)).default([]),
  }).prefault({}),
});
export type PusherAppConfig = z.output<typeof PusherAppSchema>;

const ConfigSchema = z.strictObject({
  port: z.int().min(0).max(65535).default(8080),
  host: z.string().min(1).default('0.0.0.0'),
  dev: z.boolean().default(false),
  logLevel: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  auth: z.strictObject({
    jwtSecret: z.string().min(1).nullable().default(null),
    jwksUrl: z.url().nullable().default(null),
    publicKey: z.string().min(1).nullable().default(null),
    algorithms: z.array(Algorithm).min(1).default(['HS256']),
    audience: z.string().nullable().default(null),
    issuer: z.string().nullable().default(null),
    allowAnonymous: z.boolean().default(false),
    allowQueryToken: z.boolean().default(true),
    timeoutMs: z.int().min(100).max(600_000).default(10_000),
    /** Send `token_expiring` this long before the token expires. */
    expiringNoticeMs: z.int().min(0).default(30_000),
    /** Clock skew tolerated on `exp`/`nbf`, in seconds. */
    clockToleranceSec: z.int().min(0).max(300).default(5),
  }).prefault({}),
  apiKeys: z.array(z.string().min(16, 'API keys must be at least 16 characters')).default([]),
  allowedOrigins: z.array(z.string().min(1)).default([]),
  heartbeat: z.strictObject({
    intervalMs: z.int().min(0).default(25_000),
    timeoutMs: z.int().min(100).default(8_000),
  }).prefault({}),
  namespaces: z.record(z.string().regex(/^([A-Za-z0-9_-]*|#)$/, 'namespace names are A-Z a-z 0-9 _ - (or "" or "#")'), NamespaceSchema)
    .superRefine((nss, ctx) => {
      for (const [name, ns] of Object.entries(nss)) {
        if (name !== '#' && ns.autoSubscribe !== undefined) ctx.addIssue({ code: 'custom', path: [name, 'autoSubscribe'], message: 'only the personal namespace "#" has autoSubscribe' });
      }
    })
    .default({ '': {} } as never),
  sessions: z.strictObject({
    maxPerUser: z.int().min(1).nullable().default(null),
    onLimit: z.enum(['kick_oldest', 'reject_new']).default('kick_oldest'),
    idleTtl: duration.default(7 * 86_400_000),
  }).prefault({}),
  presence: z.strictObject({
    /** Wait this long after a user's last connection closes before `offline`, so a reload does not flap. */
    offlineGraceMs: z.int().min(0).default(3000),
  }).prefault({}),
  /**
   * `memory`, `sqlite:<path>`, `redis` (uses `redis`), `postgres` (uses `postgres`) or `nats`
   * (uses `nats`). Absent: the cluster backend that is set, else `sqlite:./data/switchboard.db`.
   */
  storage: z.string().regex(/^(memory|redis|postgres|nats|sqlite:.+)$/, 'storage must be "memory", "redis", "postgres", "nats" or "sqlite:<path>"').optional(),
  /**
   * Cluster mode on NATS JetStream (docs/nats.md): `url` lists the servers
   * (`nats://a:4222,nats://b:4222`; `tls://` for TLS, `user:password@` or a token in the URL),
   * `replicas` the replication of every stream and bucket (a publication is acknowledged once a
   * majority of them hold it), `credentials` a NATS `.creds` file, `prefix` the names of this
   * deployment's streams, buckets and subjects.
   */
  nats: z.strictObject({
    url: natsUrls,
    replicas: z.int().min(1).max(5).default(3),
    credentials: z.string().min(1).nullable().default(null),
    prefix: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/, 'nats.prefix must be 1–32 letters, digits, _ or -').default('sb'),
  }).nullable().default(null),
  /**
   * Cluster mode: `redis://…` (one server), `redis+cluster://h:p,h:p` (Redis Cluster seeds) or
   * `redis+sentinel://h:p,h:p/<master>` (Sentinel); `rediss…` for TLS.
   */
  redis: z.string().superRefine((url, ctx) => {
    try {
      parseRedisUrl(url);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `redis: ${(err as Error).message} (redis://host:6379, redis+cluster://host:port,host:port or redis+sentinel://host:26379/<master>)` });
    }
  }).nullable().default(null),
  /** Cluster mode on PostgreSQL alone (`postgres://user:pass@host:5432/db`): broker and every store (docs/postgres.md). */
  postgres: postgresUrl.nullable().default(null),
  /** The transactional outbox consumer (docs/postgres.md): publishes what applications commit to `table`. */
  outbox: z.strictObject({
    postgres: postgresUrl.nullable().default(null),
    table: z.string().regex(OUTBOX_TABLE_NAME, 'outbox.table must be a lower-case table name of at most 56 characters, optionally schema-qualified ("schema.table")').default('switchboard_outbox'),
    /** The safety-net poll when no notification arrives (ms). */
    pollIntervalMs: z.int().min(50).max(600_000).default(5000),
    /** Rows claimed per transaction. */
    batchSize: z.int().min(1).max(10_000).default(200),
  }).prefault({}),
  /**
   * Acknowledge a publication only once this many Redis replicas confirm it (`WAIT`); fewer
   * within `redisWaitTimeout` answers a temporary error instead. 0: acknowledge once the
   * primary stored it.
   */
  redisWaitReplicas: z.int().min(0).max(16).default(0),
  /** How long a publish waits for `redisWaitReplicas` confirmations before failing (temporarily). */
  redisWaitTimeout: duration.default(1000),
  /** How long a publish `id` is remembered per channel for idempotency. */
  dedupWindow: duration.default(5 * 60_000),
  limits: z.strictObject({
    maxFrameBytes: z.int().min(64).max(16 * 1024 * 1024).default(65_536),
    maxChannelsPerConnection: z.int().min(1).default(128),
    maxChannelLength: z.int().min(8).max(255).default(255),
    /** Outbound bytes buffered for one connection before it is closed `3008 slow_consumer`. */
    maxQueueBytes: z.int().min(1024).default(4 * 1024 * 1024),
    /** Commands per connection per second (token bucket; burst = 2x). */
    commandsPerSecond: z.int().min(1).default(200),
    /** `presence_update`s per connection per second (token bucket; burst = 2x); past it: too_many_requests. */
    presenceUpdatesPerSecond: z.int().min(1).default(5),
    /** Largest `info` of a `presence_update`, as JSON bytes. */
    maxPresenceInfoBytes: z.int().min(16).max(65_536).default(2048),
    /** New connections per IP per second (burst = 2x). */
    connectionsPerIpPerSecond: z.int().min(1).default(100),
    /** Requests on open HTTP-transport connections (`/poll?conn=`, `/send`, `/close`) per IP per second (burst = 2x). */
    httpRequestsPerIpPerSecond: z.int().min(1).default(1000),
    maxHttpBodyBytes: z.int().min(1024).default(1024 * 1024),
    /** An HTTP request or WebSocket handshake whose headers are not complete by then is cut off. */
    handshakeTimeoutMs: z.int().min(100).max(120_000).default(10_000),
    historyLimit: z.int().min(1).default(1000),
    /** Most publications a `subscribe` with `rewind` returns. */
    maxRewind: z.int().min(1).max(10_000).default(100),
    /** Most bytes (JSON) of publications one rewind returns: the oldest beyond it are left out. */
    maxRewindBytes: z.int().min(1024).default(256 * 1024),
    /**
     * Most bytes (JSON) of publications one subscribe ack (recovery with `since`) or one
     * `history` reply carries; the rest is paged (`more`). Capped at a quarter of `maxQueueBytes`.
     */
    maxReplayBytes: z.int().min(1024).default(1024 * 1024),
    /** History reads (commands, recoveries, API) one node runs at once; more wait their turn. */
    historyReadsInFlight: z.int().min(1).max(1024).default(16),
  }).prefault({}),
  hooks: z.strictObject({
    connect: HookSchema.prefault({}),
    subscribe: HookSchema.prefault({}),
    publish: HookSchema.prefault({}),
    refresh: HookSchema.prefault({}),
    /** Client `rpc` calls go here (docs/hooks.md#rpc). */
    rpc: z.strictObject({
      url: z.url().nullable().default(null),
      timeoutMs: z.int().min(1).max(60_000).default(5000),
      /** Calls per connection per second (token bucket; burst = 2x). */
      perSecond: z.int().min(1).default(20),
      /** Calls of one connection waiting for the backend at once. */
      maxInflight: z.int().min(1).max(1000).default(16),
      /** Most bytes of a backend answer. */
      maxResponseBytes: z.int().min(64).max(16 * 1024 * 1024).default(65_536),
    }).prefault({}),
  }).prefault({}),
  /** OpenTelemetry traces (docs/tracing.md): off by default. */
  tracing: z.strictObject({
    enabled: z.boolean().default(false),
    /**
     * The OTLP/HTTP traces URL (`…/v1/traces`); null: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
     * else OTEL_EXPORTER_OTLP_ENDPOINT + `/v1/traces`, else `http://localhost:4318/v1/traces`.
     */
    endpoint: z.url().nullable().default(null),
    /** `service.name` of the spans (OTEL_SERVICE_NAME wins). */
    serviceName: z.string().min(1).max(200).default('switchboard'),
    /** Share of traces started here that are recorded; a `traceparent` received decides for its own. */
    sampleRatio: z.number().min(0).max(1).default(1),
  }).prefault({}),
  webhooks: z.strictObject({
    url: z.url().nullable().default(null),
    /** HMAC-SHA256 key of the signature header (docs/webhooks.md). */
    secret: z.string().min(16, 'the webhook secret must be at least 16 characters').nullable().default(null),
    events: z.array(z.enum(WEBHOOK_EVENTS)).default(['user.online', 'user.offline', 'channel.occupied', 'channel.vacated']),
    timeoutMs: z.int().min(1).max(60_000).default(5000),
    /** First retry after this; doubling up to `maxRetryDelayMs`. */
    retryDelayMs: z.int().min(10).default(1000),
    maxRetryDelayMs: z.int().min(10).default(300_000),
    /** Deliveries tried before an event is dropped (logged). */
    maxAttempts: z.int().min(1).default(20),
    /**
     * Events the outbox may hold (a receiver down for long, `publication` events of a busy
     * namespace). Past it, new events are dropped (counted, logged rate-limited); the size is
     * checked at most once a second, so the outbox may go over by about a second's events.
     */
    maxQueued: z.int().min(1).default(100_000),
    /** Requests in flight at once from each node; events of one channel or user never overlap (docs/webhooks.md). */
    concurrency: z.int().min(1).max(1000).default(64),
    /** Up to this many events per request, the body `{"events": [...]}`; 0: one event per request. */
    batch: z.int().min(0).max(1000).default(0),
  }).prefault({}).refine((w) => w.url === null || w.secret !== null, { message: 'webhooks.url needs webhooks.secret (at least 16 characters)', path: ['secret'] }),
  /** Pusher Channels protocol 7 and HTTP API (docs/pusher.md): the apps this gateway serves. */
  pusher: z.strictObject({
    apps: z.array(PusherAppSchema).max(1000).default([]).superRefine((apps, ctx) => {
      for (const field of ['id', 'key'] as const) {
        const seen = new Set<string>();
        for (const [i, app] of apps.entries()) {
          if (seen.has(app[field])) ctx.addIssue({ code: 'custom', path: [i, field], message: `two apps have the ${field} "${app[field]}"` });
          seen.add(app[field]);
        }
      }
    }),
  }).prefault({}),
  /** The admin web UI at `/admin/` (docs/admin.md); off (404) while `password` is null. */
  admin: z.strictObject({
    password: z.string().min(12, 'the admin password must be at least 12 characters').nullable().default(null),
    /** How long an admin login lasts (absolute, not sliding). */
    sessionTtl: duration.default(8 * 3_600_000),
    /** Logins allowed per client IP per minute (wrong and right alike). */
    loginAttemptsPerMinute: z.int().min(1).max(1000).default(10),
  }).prefault({}),
  tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).nullable().default(null),
  /** WebSocket permessage-deflate (RFC 7692): each publication compressed once for every subscriber that negotiated it. */
  compression: z.strictObject({
    permessageDeflate: z.boolean().default(false),
    /** Frames smaller than this many bytes are sent uncompressed. */
    threshold: z.int().min(0).default(256),
  }).prefault({}),
  /** The HTTP fallback transports (docs/transports.md). */
  transports: z.strictObject({
    /** Serve HTTP-streaming, SSE and long-polling (`/stream`, `/sse`, `/poll`, `/send`, `/close`). */
    http: z.boolean().default(true),
    /** A long-poll is answered (empty) after this long; a poller silent for this long is gone. */
    pollTimeoutMs: z.int().min(100).max(120_000).default(25_000),
    /** Requests for other nodes' connections relayed by this node and waiting for the answer, at most (past it: `503`). */
    maxRelayedRequests: z.int().min(1).default(10_000),
  }).prefault({}),
  shutdown: z.strictObject({
    timeoutMs: z.int().min(0).default(10_000),
    /** Clients are told to reconnect after a random delay up to this, to spread the load. */
    reconnectSpreadMs: z.int().min(0).default(5_000),
  }).prefault({}),
}).refine((c) => [c.redis, c.postgres, c.nats].filter(Boolean).length <= 1, { message: 'more than one of redis, postgres and nats is set: choose one cluster backend', path: ['postgres'] })
  .transform((c) => ({
    ...c,
    storage: c.storage ?? (c.redis ? 'redis' : c.postgres ? 'postgres' : c.nats ? 'nats' : 'sqlite:./data/switchboard.db'),
    // A Pusher app's namespace that is not configured is a namespace with the defaults.
    namespaces: c.pusher.apps.some((a) => !Object.hasOwn(c.namespaces, a.namespace))
      ? { ...Object.fromEntries(c.pusher.apps.map((a) => [a.namespace, NamespaceSchema.parse({})])), ...c.namespaces }
      : c.namespaces,
  }));

/** Configuration as written by users (every key optional). */
export type ConfigInput = z.input<typeof ConfigSchema>;
/** Configuration with every default filled in. */
export type Config = z.output<typeof ConfigSchema>;

/** Thrown when configuration is invalid; its message names the key. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Validates configuration and fills defaults. Throws ConfigError naming the first bad keys. */
export function parseConfig(input: unknown): Config {
  const result = ConfigSchema.safeParse(input ?? {});
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const key = i.path.length ? i.path.map(String).join('.') : '(root)';
      const msg = i.code === 'unrecognized_keys' ? `unknown key(s) ${i.keys.map((k) => `"${k}"`).join(', ')}` : i.message;
      return `  ${key}: ${msg}`;
    });
    throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
  }
  return result.data;
}

type Env = Record<string, string | undefined>;
const list = (v: string) => v.split(',').map((s) => s.trim()).filter(Boolean);

/** The configuration keys set by `SWITCHBOARD_*` environment variables. */
export function configFromEnv(env: Env): Record<string, unknown> {
  const out: Record<string, any> = {};
  const num = (name: string, v: string) => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`invalid configuration:\n  ${name}: not a number: ${JSON.stringify(v)}`);
    return n;
  };
  const bool = (name: string, v: string) => {
    if (/^(1|true|yes|on)$/i.test(v.trim())) return true;
    if (/^(0|false|no|off)?$/i.test(v.trim())) return false;
    throw new ConfigError(`invalid configuration:\n  ${name}: expected true or false, got ${JSON.stringify(v)}`);
  };
  if (env.SWITCHBOARD_PORT !== undefined) out.port = num('SWITCHBOARD_PORT', env.SWITCHBOARD_PORT);
  if (env.SWITCHBOARD_HOST !== undefined) out.host = env.SWITCHBOARD_HOST;
  if (env.SWITCHBOARD_JWT_SECRET !== undefined) out.auth = { jwtSecret: env.SWITCHBOARD_JWT_SECRET };
  if (env.SWITCHBOARD_API_KEY !== undefined) out.apiKeys = list(env.SWITCHBOARD_API_KEY);
  if (env.SWITCHBOARD_ALLOWED_ORIGINS !== undefined) out.allowedOrigins = list(env.SWITCHBOARD_ALLOWED_ORIGINS);
  if (env.SWITCHBOARD_STORAGE !== undefined) out.storage = env.SWITCHBOARD_STORAGE;
  if (env.SWITCHBOARD_REDIS_URL !== undefined) out.redis = env.SWITCHBOARD_REDIS_URL;
  if (env.SWITCHBOARD_POSTGRES_URL !== undefined) out.postgres = env.SWITCHBOARD_POSTGRES_URL;
  if (env.SWITCHBOARD_NATS_URL !== undefined) out.nats = { url: env.SWITCHBOARD_NATS_URL };
  if (env.SWITCHBOARD_OUTBOX_URL !== undefined) out.outbox = { postgres: env.SWITCHBOARD_OUTBOX_URL };
  if (env.SWITCHBOARD_REDIS_WAIT_REPLICAS !== undefined) out.redisWaitReplicas = num('SWITCHBOARD_REDIS_WAIT_REPLICAS', env.SWITCHBOARD_REDIS_WAIT_REPLICAS);
  if (env.SWITCHBOARD_LOG_LEVEL !== undefined) out.logLevel = env.SWITCHBOARD_LOG_LEVEL;
  if (env.SWITCHBOARD_TRACING !== undefined) out.tracing = { enabled: bool('SWITCHBOARD_TRACING', env.SWITCHBOARD_TRACING) };
  if (env.SWITCHBOARD_ADMIN_PASSWORD !== undefined && env.SWITCHBOARD_ADMIN_PASSWORD !== '') out.admin = { password: env.SWITCHBOARD_ADMIN_PASSWORD };
  const pusher = pusherFromEnv(env);
  if (pusher) out.pusher = { apps: pusher };
  return out;
}

/**
 * `pusher.apps` from the environment: `SWITCHBOARD_PUSHER_APPS` (a JSON array of apps), or
 * one app from `SWITCHBOARD_PUSHER_APP_ID`, `_KEY`, `_SECRET`, `_NAMESPACE` (default
 * `pusher`), `_CLIENT_EVENTS` (`true`/`false`), `_WEBHOOK_URL` and `_WEBHOOK_EVENTS`
 * (comma-separated). Undefined when none is set.
 */
function pusherFromEnv(env: Env): unknown[] | undefined {
  if (env.SWITCHBOARD_PUSHER_APPS !== undefined) {
    try {
      const apps = JSON.parse(env.SWITCHBOARD_PUSHER_APPS) as unknown;
      if (!Array.isArray(apps)) throw new Error('not an array');
      return apps;
    } catch (err) {
      throw new ConfigError(`invalid configuration:\n  SWITCHBOARD_PUSHER_APPS: not a JSON array of apps (${(err as Error).message})`);
    }
  }
  const id = env.SWITCHBOARD_PUSHER_APP_ID;
  if (id === undefined) return undefined;
  const flag = env.SWITCHBOARD_PUSHER_APP_CLIENT_EVENTS;
  if (flag !== undefined && flag !== 'true' && flag !== 'false') throw new ConfigError(`invalid configuration:\n  SWITCHBOARD_PUSHER_APP_CLIENT_EVENTS: "true" or "false", not ${JSON.stringify(flag)}`);
  const url = env.SWITCHBOARD_PUSHER_APP_WEBHOOK_URL;
  return [{
    id, key: env.SWITCHBOARD_PUSHER_APP_KEY, secret: env.SWITCHBOARD_PUSHER_APP_SECRET,
    namespace: env.SWITCHBOARD_PUSHER_APP_NAMESPACE ?? 'pusher',
    ...(flag !== undefined ? { clientEvents: flag === 'true' } : {}),
    ...(url ? { webhooks: { url, events: list(env.SWITCHBOARD_PUSHER_APP_WEBHOOK_EVENTS ?? 'channel_occupied,channel_vacated,member_added,member_removed') } } : {}),
  }];
}

/** Reads a JSON configuration file; a missing or malformed file is a ConfigError. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
  }
  try {
    const v = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('top level must be an object');
    return v;
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deep-merges configuration layers, later layers winning; arrays are replaced, not merged. */
export function mergeConfig(...layers: Array<Record<string, unknown> | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue;
      out[k] = isPlainObject(v) && isPlainObject(out[k]) ? mergeConfig(out[k] as Record<string, unknown>, v) : v;
    }
  }
  return out;
}

/**
 * Dev-mode additions (`switchboard serve --dev`): loopback only, anonymous allowed, SQLite in
 * `./data/`, history and presence in the default namespace. Every other namespace is open too
 * (`ChannelResolver`: an unconfigured one gets history and presence), and grants are not
 * enforced: what production would refuse is allowed and logged (`DevLenience`).
 */
export function devDefaults(): Record<string, unknown> {
  return {
    dev: true,
    host: '127.0.0.1',
    storage: 'sqlite:./data/switchboard.db',
    auth: { allowAnonymous: true },
    namespaces: { '': { history: { size: 1000, ttl: '24h' }, presence: true, joinLeave: true }, '#': { history: { size: 1000, ttl: '7d' }, presence: false } },
  };
}

/** True when some way of authenticating connections is configured (a Pusher app: its key and signatures). */
export function hasAuthMethod(c: Config): boolean {
  return Boolean(c.auth.jwtSecret || c.auth.jwksUrl || c.auth.publicKey || c.auth.allowAnonymous || c.hooks.connect.url || c.pusher.apps.length > 0);
}
