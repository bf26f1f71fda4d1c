import { z } from 'zod';
import { isValidUserId } from '@switchboard/protocol';
import type { Operations } from './operations.ts';
import { PublishResponse, payload } from './schemas.ts';
import { ApiError, renameField } from './errors.ts';

/**
 * `POST /api/push`: the shape a push process already sends (seed 003):
 * `{"type": "single" | "room" | "all", "pointer": …, "content": …}`.
 * - `single`: `pointer` is a user id; `send` to that user.
 * - `room`: `pointer` is a channel; `publish` to it.
 * - `all`: `pointer` is ignored; `content` goes to every connection as a `message` frame on channel `"*"`.
 */
export const PushRequest = z.object({
  type: z.enum(['single', 'room', 'all'], 'must be "single", "room" or "all"'),
  pointer: z.unknown().optional().describe('single: the user id; room: the channel; all: ignored.'),
  content: payload('any JSON value').describe('The payload, delivered as data.'),
  idempotencyKey: z.string().min(1).max(128).optional(),
});
export type PushRequest = z.output<typeof PushRequest>;

export const PushResponse = z.union([PublishResponse, z.object({ connections: z.int().describe('Connections the frame was queued for (type all).') })]);
export type PushResponse = z.output<typeof PushResponse>;

/** Maps a validated push body to send / publish / send-to-all; a wrong `pointer` is a 400 naming it. */
export async function runPush(ops: Operations, b: PushRequest): Promise<PushResponse> {
  switch (b.type) {
    case 'single':
      if (!isValidUserId(b.pointer)) throw new ApiError(400, 'bad_request', 'pointer: for type "single" must be a user id (1-128 of A-Z a-z 0-9 _ . @ = + -)', 'pointer');
      return ops.send(b.pointer, b.content, b.idempotencyKey).catch(renameField('user', 'pointer'));
    case 'room':
      if (typeof b.pointer !== 'string' || b.pointer === '') throw new ApiError(400, 'bad_request', 'pointer: for type "room" must be a channel name', 'pointer');
      return ops.publish(b.pointer, b.content, b.idempotencyKey).catch(renameField('channel', 'pointer'));
    case 'all':
      return ops.sendToAll(b.content);
    default: {
      const never: never = b.type;
      throw new ApiError(400, 'bad_request', `type: unknown ${String(never)}`, 'type');
    }
  }
}
