/** One authenticated connection as the admin UI shows it (no session id, no token). */
export interface ConnectionView {
  client: string;
  user: string;
  /** The admin id of the node holding it. */
  node: string;
  /** `websocket`, or the transport that carries it. */
  transport: string;
  ip: string;
  /** Unix ms when the socket opened. */
  since: number;
  anonymous: boolean;
  /** Its channels (the first `MAX_VIEW_CHANNELS`), and how many it has in all. */
  channels: string[];
  channelCount: number;
  /** The upgrade request's User-Agent, cut to 200 characters. */
  userAgent?: string;
}

/** A cross-node admin query: connections of one user, or the newest connections of each node. */
export interface ConnectionQuery {
  user?: string;
  limit: number;
}

/** Channels listed per connection in a view (the count is always exact). */
export const MAX_VIEW_CHANNELS = 50;
/** Connections one node returns per query at most. */
export const MAX_VIEW_CONNECTIONS = 200;
