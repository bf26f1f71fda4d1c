import { personalChannel, type PublishFrame, type SendFrame } from '@switchboard/protocol';
import type { AuthenticatedConnection } from '../../../connection/connection.ts';
import type { CommandContext, PublishResult } from '../../command-context.ts';
import { assertCanSend } from '../../../direct/personal-channel.ts';
import { authorizePublish, filterSend } from '../../../auth/hook-checks.ts';
import { reply } from '../replies.ts';

function ackOf(r: PublishResult): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (r.epoch !== undefined) out.epoch = r.epoch;
  if (r.offset !== undefined) out.offset = r.offset;
  out.duplicate = r.duplicate;
  return out;
}

/**
 * `publish`: the `ack` comes only after the publication is stored (history namespaces);
 * the `id` is its idempotency key.
 */
export async function handlePublish(ctx: Pick<CommandContext, 'channels' | 'hooks' | 'publisher' | 'tracing'>, conn: AuthenticatedConnection, frame: PublishFrame): Promise<void> {
  // Traced: the command is the trace's root span; the publish hook and the publication its children.
  if (ctx.tracing.enabled) {
    return ctx.tracing.span('switchboard command publish', { kind: 'server', attributes: { 'messaging.destination.name': frame.channel } }, () => publish(ctx, conn, frame));
  }
  return publish(ctx, conn, frame);
}

async function publish(ctx: Pick<CommandContext, 'channels' | 'hooks' | 'publisher'>, conn: AuthenticatedConnection, frame: PublishFrame): Promise<void> {
  const ch = ctx.channels.resolve(frame.channel);
  const data = await authorizePublish(ctx, conn, ch, frame.data);
  const r = await ctx.publisher.publish(ch, data, { from: conn.user, id: frame.id, ...(frame.tags !== undefined ? { tags: frame.tags } : {}) });
  reply(conn, frame.id, ackOf(r));
}

/**
 * `send`: a private message to a user's personal channel `#<to>` (and a copy to the sender's
 * own, so the sender's other tabs see it). The ack carries the recipient channel's offset.
 */
export async function handleSend(ctx: Pick<CommandContext, 'channels' | 'hooks' | 'publisher'>, conn: AuthenticatedConnection, frame: SendFrame): Promise<void> {
  const target = assertCanSend(ctx, conn, frame.to);
  const me = conn.user;
  const data = await filterSend(ctx, conn, target, frame.data);
  const r = await ctx.publisher.publish(target, data, { from: me, id: frame.id });
  if (frame.to !== me && !r.duplicate) {
    const own = ctx.channels.resolve(personalChannel(me));
    await ctx.publisher.publish(own, data, { from: me, ...(frame.id !== undefined ? { id: frame.id } : {}) });
  }
  reply(conn, frame.id, ackOf(r));
}
