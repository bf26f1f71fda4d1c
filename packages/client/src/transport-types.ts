/** Types shared by the transports and the options (no imports: no cycles). */

/** The part of the WHATWG `WebSocket` the SDK uses (browsers, Node 22+, the `ws` package). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: any) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: any) => void) | null;
}

/** The transports the SDK can use, in the default order of preference. */
export type TransportName = 'websocket' | 'http-stream' | 'sse' | 'long-polling';

/** The part of `fetch` the HTTP transports use (browsers, Node 18+). */
export type FetchLike = (url: string, init?: { method?: string; body?: string; headers?: Record<string, string>; signal?: AbortSignal; credentials?: 'include'; keepalive?: boolean }) => Promise<{
  status: number;
  ok: boolean;
  text(): Promise<string>;
  body: { getReader(): { read(): Promise<{ done: boolean; value?: Uint8Array }>; cancel(): Promise<void> } } | null;
}>;

/** The part of the WHATWG `EventSource` the SSE transport uses. */
export interface ServerEventSource {
  onmessage: ((ev: { data: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  close(): void;
}
/** An `EventSource` constructor. */
export type EventSourceConstructor = new (url: string, init?: { withCredentials?: boolean }) => ServerEventSource;

