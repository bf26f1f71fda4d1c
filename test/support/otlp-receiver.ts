import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** One span as received, attributes flattened. */
export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  /** OTLP's SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  attributes: Record<string, string | number | boolean>;
  service: string;
  status: number;
}

type AnyValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type KeyValue = { key: string; value: AnyValue };
const flatten = (kvs: KeyValue[] = []) => Object.fromEntries(kvs.map(({ key, value }) => [key, value.stringValue ?? (value.intValue !== undefined ? Number(value.intValue) : value.boolValue ?? value.doubleValue ?? '')]));

/**
 * An OTLP/HTTP trace receiver on a free loopback port: `POST /v1/traces` with the JSON
 * encoding of an `ExportTraceServiceRequest` (what `@opentelemetry/exporter-trace-otlp-http`
 * sends; gzip accepted), answered `200 {}` as a collector does; anything else is a 415/404.
 * Every span received is kept, with its resource's `service.name`.
 */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  /** Requests it refused (a wrong path or encoding): a test asserts there were none. */
  readonly refused: string[] = [];
  url = '';
  private readonly server: Server;

  constructor() {
    this.server = createServer((req, res) => void this.handle(req).then(
      (status) => res.writeHead(status, { 'content-type': 'application/json' }).end(status === 200 ? '{}' : '{"error":"refused"}'),
    ));
  }

  private async handle(req: IncomingMessage): Promise<number> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (req.method !== 'POST' || req.url !== '/v1/traces') return this.refuse(`${req.method} ${req.url}`, 404);
    if (!String(req.headers['content-type']).startsWith('application/json')) return this.refuse(`content-type ${req.headers['content-type']}`, 415);
    let body = Buffer.concat(chunks);
    if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
    const request = JSON.parse(body.toString('utf8')) as {
      resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: (Omit<ReceivedSpan, 'attributes' | 'service' | 'status'> & { attributes?: KeyValue[]; status?: { code?: number } })[] }[] }[];
    };
    for (const rs of request.resourceSpans ?? []) {
      const service = String(flatten(rs.resource?.attributes)['service.name'] ?? '');
      for (const ss of rs.scopeSpans ?? []) {
        for (const s of ss.spans ?? []) {
          this.spans.push({ traceId: s.traceId, spanId: s.spanId, parentSpanId: s.parentSpanId ?? '', name: s.name, kind: s.kind, attributes: flatten(s.attributes), service, status: s.status?.code ?? 0 });
        }
      }
    }
    return 200;
  }

  private refuse(what: string, status: number): number {
    this.refused.push(what);
    return status;
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1/traces`;
    return this;
  }

  /** The spans of one trace. */
  trace(traceId: string): ReceivedSpan[] {
    return this.spans.filter((s) => s.traceId === traceId);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
