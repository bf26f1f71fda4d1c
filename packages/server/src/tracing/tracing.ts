/**
 * Traces (docs/tracing.md): an OpenTelemetry tracer when `tracing.enabled`, and nothing at all
 * otherwise. Off, the OpenTelemetry packages are never loaded and callers test `enabled` before
 * doing anything for a trace, so a gateway without tracing pays one boolean test per publication.
 */

/** What a span records besides its timing. */
type SpanAttributes = Record<string, string | number | boolean>;

/** The span a traced function runs in. */
export interface SpanRecorder {
  setAttribute(key: string, value: string | number | boolean): void;
}

/** How a span relates to the outside (OpenTelemetry's span kinds). */
export type SpanKindName = 'server' | 'client' | 'producer' | 'consumer' | 'internal';

/** Options of `Tracing.span`. */
export interface SpanOptions {
  kind?: SpanKindName;
  attributes?: SpanAttributes;
  /**
   * A W3C `traceparent` to continue (an HTTP request's header, a publication from another
   * node, a queued webhook); the active span is the parent when absent.
   */
  parent?: string | undefined;
}

/** The tracer the gateway's services use. */
export interface Tracing {
  /** False: every other member does nothing (callers skip them on hot paths). */
  readonly enabled: boolean;
  /** Runs `f` in a new span (ended when `f` settles; a rejection marks it failed). */
  span<T>(name: string, o: SpanOptions, f: (span: SpanRecorder) => Promise<T> | T): Promise<T>;
  /** The active span as a W3C `traceparent` (undefined when none, or off). */
  traceparent(): string | undefined;
  /** Exports what is buffered and stops. */
  shutdown(): Promise<void>;
}

const NO_SPAN: SpanRecorder = { setAttribute: () => {} };

/** Tracing off: spans are not made, nothing is exported. */
export const TRACING_OFF: Tracing = {
  enabled: false,
  span: async (_name, _o, f) => f(NO_SPAN),
  traceparent: () => undefined,
  shutdown: async () => {},
};

/** Headers that carry the active span to an HTTP request (`traceparent`); none when off or outside a span. */
export function traceHeaders(tracing: Tracing): Record<string, string> {
  if (!tracing.enabled) return {};
  const traceparent = tracing.traceparent();
  return traceparent === undefined ? {} : { traceparent };
}

/** The `traceparent` header of a request, when it has exactly one. */
export function traceparentHeader(headers: Record<string, string | string[] | undefined>): string | undefined {
  const v = headers.traceparent;
  return typeof v === 'string' ? v : undefined;
}
