import { DELTA_FORMATS, type ClientFrame, type FrameId, type ServerFrame, type StreamPosition } from './frames.ts';
import { ReplyError } from './errors.ts';
import { MAX_FILTER_LENGTH, tagsProblem } from './filter.ts';

/** Longest accepted command id. */
export const MAX_ID_LENGTH = 128;

/** Result of decoding one client text frame. */
export type DecodeResult =
  | { ok: true; frame: ClientFrame }
  /** The frame was an object but its command is unknown or malformed: reply `error`, keep the connection. */
  | { ok: false; fatal: false; id: FrameId | undefined; error: ReplyError }
  /** Not a JSON object at all: close `3501 bad_request`. */
  | { ok: false; fatal: true; message: string };

function isId(v: unknown): v is FrameId {
  return (typeof v === 'string' && v.length > 0 && v.length <= MAX_ID_LENGTH) || (typeof v === 'number' && Number.isFinite(v));
}

function isPosition(v: unknown): v is StreamPosition {
  if (typeof v !== 'object' || v === null) return false;
  const p = v as Record<string, unknown>;
  return typeof p.epoch === 'string' && p.epoch.length <= 64 && Number.isSafeInteger(p.offset) && (p.offset as number) >= 0;
}

const str = (v: unknown): v is string => typeof v === 'string';
/** What an `rpc` method name may be. */
const RPC_METHOD = /^[A-Za-z0-9_.:/-]{1,128}$/;
const optStr = (v: unknown) => v === undefined || typeof v === 'string';

/**
 * Checks the fields of a known command; returns what is wrong, or undefined when it is fine.
 * Exhaustive over the client frame types: adding a type without a check does not compile.
 */
function problem(f: Record<string, unknown>, type: ClientFrame['type']): string | undefined {
  switch (type) {
    case 'auth':
      if (!optStr(f.token) || !optStr(f.name) || !optStr(f.session)) return 'auth: token, name and session must be strings';
      return undefined;
    case 'subscribe':
      if (!str(f.channel)) return 'subscribe: channel must be a string';
      if (f.since !== undefined && !isPosition(f.since)) return 'subscribe: since must be {epoch: string, offset: integer >= 0}';
      if (f.rewind !== undefined && !(Number.isSafeInteger(f.rewind) && (f.rewind as number) >= 0)) return 'subscribe: rewind must be an integer >= 0';
      if (f.rewind !== undefined && f.since !== undefined) return 'subscribe: give since or rewind, not both';
      if (f.delta !== undefined && !DELTA_FORMATS.includes(f.delta as never)) return `subscribe: delta must be one of ${DELTA_FORMATS.map((d) => JSON.stringify(d)).join(', ')}`;
      if (f.filter !== undefined && !(str(f.filter) && f.filter.length <= MAX_FILTER_LENGTH)) return `subscribe: filter must be a string of at most ${MAX_FILTER_LENGTH} characters`;
      return undefined;
    case 'presence_update':
      if (!str(f.channel)) return 'presence_update: channel must be a string';
      if (!('info' in f) || f.info === undefined) return 'presence_update: info is required (any JSON; null clears it)';
      return undefined;
    case 'unsubscribe':
    case 'presence':
      if (!str(f.channel)) return `${type}: channel must be a string`;
      return undefined;
    case 'publish':
      if (!str(f.channel)) return 'publish: channel must be a string';
      if (!('data' in f)) return 'publish: data is required';
      if (f.tags !== undefined) {
        const bad = tagsProblem(f.tags);
        if (bad) return `publish: ${bad}`;
      }
      return undefined;
    case 'send':
      if (!str(f.to)) return 'send: to must be a user id string';
      if (!('data' in f)) return 'send: data is required';
      return undefined;
    case 'history':
      if (!str(f.channel)) return 'history: channel must be a string';
      if (f.since !== undefined && !isPosition(f.since)) return 'history: since must be {epoch: string, offset: integer >= 0}';
      if (f.limit !== undefined && !(Number.isSafeInteger(f.limit) && (f.limit as number) >= 0)) return 'history: limit must be an integer >= 0';
      if (f.reverse !== undefined && typeof f.reverse !== 'boolean') return 'history: reverse must be a boolean';
      if (f.filter !== undefined && !(str(f.filter) && f.filter.length <= MAX_FILTER_LENGTH)) return `history: filter must be a string of at most ${MAX_FILTER_LENGTH} characters`;
      return undefined;
    case 'refresh':
      if (!optStr(f.token)) return 'refresh: token must be a string';
      return undefined;
    case 'rpc':
      if (f.id === undefined) return 'rpc: id is required (the answer carries it)';
      if (!str(f.method) || !RPC_METHOD.test(f.method)) return 'rpc: method must be 1-128 of A-Z a-z 0-9 _ . : / -';
      return undefined;
    case 'ping':
    case 'pong':
      return undefined;
    default: {
      const never: never = type;
      return `unknown command type ${JSON.stringify(never)}`;
    }
  }
}

const KNOWN = new Set<string>(['auth', 'subscribe', 'unsubscribe', 'publish', 'send', 'presence', 'presence_update', 'history', 'refresh', 'ping', 'pong', 'rpc']);

/** Decodes and validates one client frame (a JSON text). Never throws. */
export function decodeClientFrame(text: string): DecodeResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ok: false, fatal: true, message: 'frame is not valid JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, fatal: true, message: 'frame must be a JSON object' };
  }
  const f = value as Record<string, unknown>;
  const id = f.id === undefined ? undefined : isId(f.id) ? f.id : undefined;
  if (f.id !== undefined && id === undefined) {
    return { ok: false, fatal: false, id: undefined, error: new ReplyError('bad_request', `id must be a string of 1-${MAX_ID_LENGTH} characters or a finite number`) };
  }
  if (typeof f.type !== 'string') {
    return { ok: false, fatal: false, id, error: new ReplyError('bad_request', 'frame has no string "type"') };
  }
  if (!KNOWN.has(f.type)) {
    return { ok: false, fatal: false, id, error: new ReplyError('bad_request', `unknown command type ${JSON.stringify(f.type.slice(0, 64))}`) };
  }
  const p = problem(f, f.type as ClientFrame['type']);
  if (p) return { ok: false, fatal: false, id, error: new ReplyError('bad_request', p) };
  return { ok: true, frame: f as unknown as ClientFrame };
}

/** Encodes one frame. Server→client batches are JSON arrays of these objects. */
export function encodeFrame(frame: ServerFrame | ClientFrame): string {
  return JSON.stringify(frame);
}

/**
 * Splits a server text frame into its frames: one object, or a batch (a JSON array).
 * Throws on text that is not JSON.
 */
export function decodeServerFrames(text: string): ServerFrame[] {
  const v = JSON.parse(text) as ServerFrame | ServerFrame[];
  return Array.isArray(v) ? v : [v];
}
