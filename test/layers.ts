/**
 * The layers of `packages/server/src`, top (0) to bottom, as docs/architecture.md draws
 * them. A module may import its own layer and the layers below it; `test/architecture.test.ts`
 * fails on any other edge that is not listed in `UPWARD_EDGES` with its reason. The first
 * pattern that matches a path (relative to `packages/server/src/`) gives its layer.
 */
export const LAYERS: ReadonlyArray<{ name: string; paths: RegExp[] }> = [
  {
    name: 'composition: entry points and the wiring of everything below',
    paths: [/^server\.ts$/, /^cli[-.]/, /^workers\.ts$/, /^index\.ts$/, /^internal\.ts$/, /^dev-/, /^stores\.ts$/, /^(redis|postgres|nats)\/backends\.ts$/],
  },
  {
    name: 'adapters: transports, wire protocols, the server API, the admin UI, the transactional outbox',
    paths: [/^transport\/(ws|deflate|context|origin)\.ts$/, /^transport\/http\//, /^protocols\//, /^api\//, /^admin\/(?!.*-store|connection-view)/, /^outbox\//, /^health\.ts$/, /^browser-bundle\.ts$/],
  },
  { name: 'the node: services built around the hub, the broker and the stores', paths: [/^node\.ts$/, /^services\.ts$/, /^control-messages\.ts$/] },
  {
    name: 'services: one concern each, over the ports',
    paths: [
      /^subscriptions\/(subscriptions|server-subscriptions)\.ts$/, /^publishing\//, /^auth\//, /^presence\/presence-tracker\.ts$/,
      /^session\/single-sign-on\.ts$/, /^access\/access-control\.ts$/, /^direct\//, /^webhooks\/webhooks\.ts$/, /^hub\.ts$/, /^delta\//, /^conflation\//,
      /^heartbeat\.ts$/, /^rpc\//, /^cluster\/node-requests\.ts$/, /^history\/(history-reads|rewind)\.ts$/,
    ],
  },
  {
    name: 'ports and their implementations (stores, brokers, directories) and the backends\' clients',
    paths: [/^(broker|history|session|presence|access|cluster|webhooks|subscriptions|admin|redis|postgres|nats|sqlite)\//, /^store-set\.ts$/, /^contract-fixtures\.ts$/],
  },
  { name: 'the connection core and the transport seam', paths: [/^connection\//, /^transport\/(transport|fanout|drain)\.ts$/] },
  {
    name: 'foundation: configuration, logging, errors, metrics, tracing, limits, channel names',
    paths: [/^(config|logger|errors|metrics|rate-limit|log-limit|json-depth|duration|unavailable|channels|identity|fast-histogram|lenience)\.ts$/, /^types\//, /^tracing\//],
  },
];

/** Edges that point upward, each with why it is there (`from -> to`, paths relative to `packages/server/src/`). */
export const UPWARD_EDGES: ReadonlyMap<string, string> = new Map([
  ['config.ts -> redis/url.ts', 'the configuration checks a Redis URL with the parser the connection uses, so a bad URL fails at start, naming the key'],
  ['config.ts -> webhooks/webhook-outbox.ts', 'the configuration checks webhook event names against the list the outbox sends (one list)'],
  ['config.ts -> outbox/outbox-ddl.ts', 'the configuration checks outbox.table with the identifier rule of the DDL that creates it (one rule)'],
]);

/** The layer index of a module of `packages/server/src` (throws for a path no layer names). */
export function layerOf(path: string): number {
  const i = LAYERS.findIndex((l) => l.paths.some((p) => p.test(path)));
  if (i === -1) throw new Error(`no layer for packages/server/src/${path}: add it to test/layers.ts`);
  return i;
}
