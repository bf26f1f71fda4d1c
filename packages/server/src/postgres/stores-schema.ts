import type { Component } from './migrations.ts';

/**
 * Sessions, blocks and revocations, and persistent server-side subscriptions
 * (`PostgresSessionStore`, `PostgresAccessStore`, `PostgresServerSubscriptionStore`).
 * Steps are only ever appended (see `migrate`). Times are Unix ms from the gateway's clock.
 */
export const STORES_SCHEMA: Component = {
  name: 'stores',
  steps: [
    `CREATE TABLE sb_sessions (
       id_hash      bytea PRIMARY KEY,          -- SHA-256 of the session id: a copy of the table resumes nothing
       "user"       text NOT NULL,
       created_at   bigint NOT NULL,
       last_seen_at bigint NOT NULL,
       expires_at   bigint NOT NULL
     );
     CREATE INDEX sb_sessions_expiry ON sb_sessions (expires_at);
     CREATE TABLE sb_access (
       "user"         text PRIMARY KEY,
       blocked_until  double precision,         -- Unix ms, 'Infinity' until unblocked; NULL: not blocked
       reason         text,
       revoked_before bigint                    -- Unix s: tokens issued before are refused
     );
     CREATE TABLE sb_server_subscriptions (
       "user"  text NOT NULL,
       channel text NOT NULL,
       seq     bigserial NOT NULL,
       PRIMARY KEY ("user", channel)
     );`,
  ],
};
