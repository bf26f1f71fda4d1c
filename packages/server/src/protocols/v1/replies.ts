import type { FrameId, ServerFrame } from '@switchboard/protocol';
import type { Connection } from '../../connection/connection.ts';
import { encodeV1 } from './encoder.ts';

/** Queues one protocol v1 frame for the connection. */
export function sendV1(conn: Connection, frame: ServerFrame): void {
  conn.enqueue(encodeV1(frame));
}

/** Answers command `id` with an `ack` carrying `extra` (nothing when the command had no id). */
export function reply(conn: Connection, id: FrameId | undefined, extra: Record<string, unknown> = {}): void {
  if (id === undefined) return;
  sendV1(conn, { type: 'ack', id, ...extra });
}
