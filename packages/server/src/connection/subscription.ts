import type { Publication } from '@switchboard/protocol';

/** A connection's subscription to one channel. */
export interface Subscription {
  channel: string;
  /**
   * Non-null while the subscription is being recovered from history: live publications are
   * held here and released (without those already replayed) once the replay is sent.
   */
  buffer: Publication[] | null;
  /**
   * History channels: the stream position this connection has been given (set by the
   * subscribe ack, advanced by each message). A publication at or below it in the same epoch
   * is not sent again, whichever path (replay, buffer, a broker that lags) brings it.
   */
  position?: { epoch: string | undefined; offset: number };
}
