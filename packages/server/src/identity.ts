/** Who the connection is, once authenticated. */
export interface Identity {
  user: string;
  /** Gateway session id (`s_…`); private, never logged. */
  session: string;
  /** The login this connection belongs to: the JWT `sid` when present, else the gateway session. */
  login: string;
  anonymous: boolean;
  info: unknown;
  /** Unix ms when the credential expires; undefined when it does not. */
  expiresAtMs: number | undefined;
  grants: { subscribe: string[]; publish: string[] };
  /** Users this connection may `send` to (JWT `send` claim, patterns); undefined: no restriction. */
  sendTo?: string[];
  /** The token's `iat` (Unix s; null: none), for revocations; undefined without a token. See `accessRefusal`. */
  issuedAt?: number | null;
  /**
   * A connection a protocol admitted without a user (a Pusher socket before it signs in):
   * `user` is `''`, it is not reachable by user, has no user presence, personal channel or
   * server-side subscriptions, until it becomes a user (`Connection.becomeUser`).
   */
  guest?: boolean;
}
