import { ReplyError, type RpcFrame } from '@switchboard/protocol';
import type { AuthenticatedConnection } from '../../../connection/connection.ts';
import type { CommandContext } from '../../command-context.ts';
import { TokenBucket } from '../../../rate-limit.ts';
import { MAX_DATA_DEPTH, withinDepth } from '../../../json-depth.ts';
import { reply, sendV1 } from '../replies.ts';

/** Per connection: the call rate and how many calls wait for the backend. */
interface RpcState {
  rate: TokenBucket;
  inflight: number;
}
const states = new WeakMap<AuthenticatedConnection, RpcState>();

/**
 * `rpc`: forwards `{method, data}` with the caller's identity to `hooks.rpc.url` and answers
 * under the frame's `id`: `ack` with `result`, or `error` (`rpc_error` when the backend
 * refused, `backend_unavailable` when it failed). The call does not hold up the connection's
 * later commands: its answer comes when the backend's does (other answers may come first).
 * Limits: `hooks.rpc.perSecond` calls a second (burst 2×) and `hooks.rpc.maxInflight` calls
 * waiting at once per connection (`too_many_requests`), `limits.maxFrameBytes` for the request
 * and `hooks.rpc.maxResponseBytes` for the answer.
 */
export async function handleRpc(ctx: Pick<CommandContext, 'rpc'>, conn: AuthenticatedConnection, frame: RpcFrame): Promise<void> {
  const rpc = ctx.rpc;
  if (!rpc.enabled) throw new ReplyError('not_available', 'rpc is not enabled on this gateway (hooks.rpc.url)');
  if (!withinDepth(frame.data)) throw new ReplyError('bad_request', `data nests deeper than ${MAX_DATA_DEPTH} levels`);
  let state = states.get(conn);
  if (!state) states.set(conn, (state = { rate: new TokenBucket(rpc.config.perSecond, rpc.config.perSecond * 2), inflight: 0 }));
  if (state.inflight >= rpc.config.maxInflight) {
    throw new ReplyError('too_many_requests', `rpc: at most ${rpc.config.maxInflight} calls may wait for the backend at once (hooks.rpc.maxInflight)`);
  }
  if (!state.rate.take()) throw new ReplyError('too_many_requests', `rpc: at most ${rpc.config.perSecond} calls a second (hooks.rpc.perSecond)`);
  const id = conn.identity;
  const u = conn.upgrade;
  state.inflight++;
  const s = state;
  void rpc.call({
    hook: 'rpc', method: frame.method, data: frame.data ?? null,
    user: id.user, client: conn.id, ...(id.info !== undefined ? { info: id.info } : {}),
    ip: u.ip, ...(u.origin !== undefined ? { origin: u.origin } : {}), ...(u.userAgent !== undefined ? { userAgent: u.userAgent } : {}),
  }).then((outcome) => {
    if (outcome.kind === 'result') return reply(conn, frame.id, { result: outcome.result });
    if (outcome.kind === 'failed') return conn.fail(frame.id, new ReplyError('backend_unavailable', `rpc ${frame.method}: ${outcome.why}`));
    sendV1(conn, {
      type: 'error', id: frame.id, code: 'rpc_error', message: outcome.message, temporary: false,
      details: { ...(outcome.code !== undefined ? { code: outcome.code } : {}), ...(outcome.data !== undefined ? { data: outcome.data } : {}) },
    });
  }).finally(() => {
    s.inflight--;
  });
}
