import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { TRACING_OFF, type Tracing } from './tracing.ts';

/**
 * The gateway's tracer for `config.tracing`: OpenTelemetry's when enabled, imported only then
 * (a gateway without tracing never loads the SDK), and `TRACING_OFF` otherwise.
 */
export async function createTracing(config: Config['tracing'], log: Logger): Promise<Tracing> {
  if (!config.enabled) return TRACING_OFF;
  const { OtelTracing } = await import('./otel-tracing.ts');
  return new OtelTracing(config, log);
}
