import { CloseCode, Disconnect, decodeClientFrame, type ClientFrame, type FrameId } from '@switchboard/protocol';
import type { Connection } from '../../connection/connection.ts';
import type { WireProtocol } from '../../connection/protocol.ts';
import type { CommandContext } from '../command-context.ts';
import { v1Encoder } from './encoder.ts';
import { dispatch } from './dispatch.ts';

/**
 * Protocol v1 JSON (docs/protocol.md): one JSON object per text frame (or a JSON array of
 * them, for batching clients), commands with ids answered by `ack`/`error`. Commands run
 * through the command table (`dispatch.ts`, one file per command in `commands/`) against the
 * gateway's `CommandContext`.
 */
export class V1Protocol implements WireProtocol<Connection> {
  readonly name = 'v1';
  readonly encoder = v1Encoder;
  private readonly ctx: CommandContext;

  constructor(ctx: CommandContext) {
    this.ctx = ctx;
  }

  /** A token on the upgrade request (`?token=`, `Authorization`) authenticates at once, before any frame. */
  opened(conn: Connection, credentials: { token?: string; session?: string }): void {
    if (credentials.token === undefined) return;
    conn.runInOrder(() => this.run(conn, { type: 'auth', token: credentials.token, session: credentials.session }));
  }

  async handle(conn: Connection, data: Buffer): Promise<void> {
    const decoded = decodeClientFrame(data.toString('utf8'));
    if (decoded.ok) return this.run(conn, decoded.frame);
    if (decoded.fatal) conn.terminate(new Disconnect(CloseCode.bad_request, decoded.message));
    else conn.fail(decoded.id, decoded.error);
  }

  idOf(data: Buffer): FrameId | undefined {
    const decoded = decodeClientFrame(data.toString('utf8'));
    return decoded.ok ? decoded.frame.id : decoded.fatal ? undefined : decoded.id;
  }

  private async run(conn: Connection, frame: ClientFrame): Promise<void> {
    try {
      await dispatch(this.ctx, conn, frame);
    } catch (err) {
      conn.fail(frame.id, err);
    }
  }
}
