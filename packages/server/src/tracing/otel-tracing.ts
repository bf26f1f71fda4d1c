import { context, defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Tracer } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider } from '@opentelemetry/sdk-trace';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { SpanKindName, SpanOptions, SpanRecorder, Tracing } from './tracing.ts';

const KINDS: Record<SpanKindName, SpanKind> = {
  server: SpanKind.SERVER, client: SpanKind.CLIENT, producer: SpanKind.PRODUCER, consumer: SpanKind.CONSUMER, internal: SpanKind.INTERNAL,
};

/** The endpoint spans go to: the config's, else OpenTelemetry's environment variables, else a local collector. */
function endpointOf(config: Config['tracing'], env: NodeJS.ProcessEnv): string {
  if (config.endpoint) return config.endpoint;
  if (env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (env.OTEL_EXPORTER_OTLP_ENDPOINT) return `${env.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  return 'http://localhost:4318/v1/traces';
}

/**
 * Tracing with the OpenTelemetry SDK: spans batched to an OTLP/HTTP endpoint (JSON), sampled
 * at `sampleRatio` unless a `traceparent` decided already, W3C trace context in and out. The
 * active span follows async calls (AsyncLocalStorage), so a hook called while a publication is
 * handled is its child. The provider is this gateway's own (not registered globally); the
 * context manager is the process's, set once.
 */
export class OtelTracing implements Tracing {
  readonly enabled = true;
  private readonly provider: TracerProvider;
  private readonly tracer: Tracer;
  private readonly propagator = new W3CTraceContextPropagator();

  constructor(config: Config['tracing'], log: Logger, env: NodeJS.ProcessEnv = process.env) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable()); // false when set already: that one serves
    const url = endpointOf(config, env);
    const delay = Number(env.OTEL_BSP_SCHEDULE_DELAY);
    this.provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME || config.serviceName }),
      sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(config.sampleRatio) }),
      spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter({ url }), ...(delay > 0 ? { scheduledDelayMillis: delay } : {}) })],
    });
    this.tracer = this.provider.getTracer('switchboard');
    // The endpoint may carry credentials in its userinfo or query: log its origin only.
    log.info({ endpoint: new URL(url).origin, sampleRatio: config.sampleRatio }, 'tracing on: spans go to an OTLP/HTTP endpoint');
  }

  async span<T>(name: string, o: SpanOptions, f: (span: SpanRecorder) => Promise<T> | T): Promise<T> {
    const parent: Context = o.parent !== undefined ? this.propagator.extract(ROOT_CONTEXT, { traceparent: o.parent }, defaultTextMapGetter) : context.active();
    const span = this.tracer.startSpan(name, { kind: KINDS[o.kind ?? 'internal'], ...(o.attributes ? { attributes: o.attributes } : {}) }, parent);
    try {
      return await context.with(trace.setSpan(parent, span), () => f(span));
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  }

  traceparent(): string | undefined {
    const carrier: Record<string, string> = Object.create(null); // the propagator's own header names
    this.propagator.inject(context.active(), carrier, defaultTextMapSetter);
    return carrier.traceparent;
  }

  shutdown(): Promise<void> {
    return this.provider.shutdown();
  }
}
