import { ReplyError, type ClientFrame } from '@switchboard/protocol';
import { isAuthenticated, type Connection } from '../../connection/connection.ts';
import type { CommandContext } from '../command-context.ts';
import { sendV1 } from './replies.ts';
import { handleAuth } from './commands/auth.ts';
import { handleSubscribe } from './commands/subscribe.ts';
import { handleUnsubscribe } from './commands/unsubscribe.ts';
import { handlePublish, handleSend } from './commands/publish.ts';
import { handlePresenceUpdate } from './commands/presence-update.ts';
import { handlePresence } from './commands/presence.ts';
import { handleHistory } from './commands/history.ts';
import { handleRefresh } from './commands/refresh.ts';
import { handleRpc } from './commands/rpc.ts';

/**
 * Routes one decoded command to its handler. Every command but `auth`, `ping` and `pong`
 * needs a ready connection, and its handler gets it typed as authenticated. Handlers throw
 * ReplyError or Disconnect.
 */
export async function dispatch(ctx: CommandContext, conn: Connection, frame: ClientFrame): Promise<void> {
  if (frame.type === 'ping') {
    sendV1(conn, frame.id !== undefined ? { type: 'pong', id: frame.id } : { type: 'pong' });
    return;
  }
  if (frame.type === 'pong') return;
  if (frame.type === 'auth') return handleAuth(ctx, conn, frame);
  if (conn.state !== 'ready' || !isAuthenticated(conn)) throw new ReplyError('unauthorized', 'authenticate first: send {"type":"auth","token":"…"}');
  switch (frame.type) {
    case 'subscribe': return handleSubscribe(ctx, conn, frame);
    case 'unsubscribe': return handleUnsubscribe(ctx, conn, frame);
    case 'publish': return handlePublish(ctx, conn, frame);
    case 'send': return handleSend(ctx, conn, frame);
    case 'presence': return handlePresence(ctx, conn, frame);
    case 'presence_update': return handlePresenceUpdate(ctx, conn, frame);
    case 'history': return handleHistory(ctx, conn, frame);
    case 'refresh': return handleRefresh(ctx, conn, frame);
    case 'rpc': return handleRpc(ctx, conn, frame);
    default: {
      const never: never = frame;
      throw new ReplyError('bad_request', `unknown command ${(never as ClientFrame).type}`);
    }
  }
}
