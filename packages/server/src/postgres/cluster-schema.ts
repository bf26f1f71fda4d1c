import type { Component } from './migrations.ts';

/**
 * What the nodes of a cluster share beyond history and sessions: node liveness, presence,
 * live logins (single sign-on), the webhook outbox and occupancy, the node directory and the
 * admin UI's sessions and samples. Steps are only ever appended (see `migrate`).
 *
 * Liveness: each node keeps its row of `sb_nodes` fresh (`PgNodeLiveness`); an entry a node
 * wrote (a presence member, a login's connection, an occupancy) counts only while its node's
 * row is live, so a dead node's entries stop counting at once when it expires, with one
 * write per node per interval whatever it holds. Functions that must be atomic per user,
 * login scope or subject take a transaction-level advisory lock on it.
 */
export const CLUSTER_SCHEMA: Component = {
  name: 'cluster',
  steps: [
    `CREATE TABLE sb_nodes (
       id         text PRIMARY KEY,
       expires_at bigint NOT NULL,
       info       text                           -- the node directory's JSON (NodeInfo)
     );
     CREATE FUNCTION sb_live(p_node text, p_now bigint) RETURNS boolean LANGUAGE sql STABLE AS
       $fn$ SELECT EXISTS (SELECT 1 FROM sb_nodes WHERE id = p_node AND expires_at > p_now) $fn$;

     CREATE TABLE sb_presence (
       channel text NOT NULL,
       client  text NOT NULL,
       "user"  text NOT NULL,
       info    text,
       node    text NOT NULL,
       PRIMARY KEY (channel, client)
     );
     CREATE INDEX sb_presence_node ON sb_presence (node);
     CREATE TABLE sb_user_conns (
       "user" text NOT NULL,
       client text NOT NULL,
       node   text NOT NULL,
       PRIMARY KEY ("user", client)
     );
     CREATE INDEX sb_user_conns_node ON sb_user_conns (node);
     CREATE TABLE sb_user_announced ("user" text PRIMARY KEY);
     CREATE FUNCTION sb_user_up(p_user text, p_client text, p_node text) RETURNS boolean LANGUAGE plpgsql AS $fn$
     BEGIN
       PERFORM pg_advisory_xact_lock(1937007715, hashtext(p_user));
       INSERT INTO sb_user_conns ("user", client, node) VALUES (p_user, p_client, p_node)
         ON CONFLICT ("user", client) DO UPDATE SET node = excluded.node;
       INSERT INTO sb_user_announced ("user") VALUES (p_user) ON CONFLICT DO NOTHING;
       RETURN FOUND;
     END $fn$;
     CREATE FUNCTION sb_user_down(p_user text, p_client text, p_now bigint) RETURNS integer LANGUAGE plpgsql AS $fn$
     BEGIN
       PERFORM pg_advisory_xact_lock(1937007715, hashtext(p_user));
       DELETE FROM sb_user_conns WHERE "user" = p_user AND client = p_client;
       RETURN (SELECT count(*) FROM sb_user_conns c WHERE c."user" = p_user AND sb_live(c.node, p_now));
     END $fn$;
     CREATE FUNCTION sb_user_settle(p_user text, p_now bigint) RETURNS boolean LANGUAGE plpgsql AS $fn$
     BEGIN
       PERFORM pg_advisory_xact_lock(1937007715, hashtext(p_user));
       DELETE FROM sb_user_conns c WHERE c."user" = p_user AND NOT sb_live(c.node, p_now);
       IF EXISTS (SELECT 1 FROM sb_user_conns WHERE "user" = p_user) THEN RETURN false; END IF;
       DELETE FROM sb_user_announced WHERE "user" = p_user;
       RETURN FOUND;
     END $fn$;

     CREATE SEQUENCE sb_login_seq;
     CREATE TABLE sb_logins (
       scope  text NOT NULL,
       "user" text NOT NULL,
       login  text NOT NULL,
       seq    bigint NOT NULL,                   -- admission order: oldest first
       PRIMARY KEY (scope, "user", login)
     );
     CREATE TABLE sb_login_clients (
       scope  text NOT NULL,
       "user" text NOT NULL,
       login  text NOT NULL,
       client text NOT NULL,
       node   text NOT NULL,
       PRIMARY KEY (scope, "user", login, client)
     );
     CREATE INDEX sb_login_clients_node ON sb_login_clients (node);
     CREATE FUNCTION sb_login_prune(p_scope text, p_user text, p_now bigint) RETURNS void LANGUAGE sql AS $fn$
       DELETE FROM sb_login_clients c WHERE c.scope = p_scope AND c."user" = p_user AND NOT sb_live(c.node, p_now);
       DELETE FROM sb_logins l WHERE l.scope = p_scope AND l."user" = p_user
         AND NOT EXISTS (SELECT 1 FROM sb_login_clients c WHERE c.scope = l.scope AND c."user" = l."user" AND c.login = l.login);
     $fn$;
     CREATE FUNCTION sb_login_acquire(p_scope text, p_user text, p_login text, p_client text, p_node text, p_now bigint, p_max integer, p_reject boolean)
     RETURNS text[] LANGUAGE plpgsql AS $fn$
     DECLARE
       n integer;
       evicted text[] := '{}';
     BEGIN
       PERFORM pg_advisory_xact_lock(1937007716, hashtext(p_scope || ' ' || p_user));
       PERFORM sb_login_prune(p_scope, p_user, p_now);
       IF NOT EXISTS (SELECT 1 FROM sb_logins WHERE scope = p_scope AND "user" = p_user AND login = p_login) THEN
         SELECT count(*) INTO n FROM sb_logins WHERE scope = p_scope AND "user" = p_user;
         IF n >= p_max THEN
           IF p_reject THEN RETURN ARRAY['0', n::text]; END IF;
           evicted := ARRAY(SELECT login FROM sb_logins WHERE scope = p_scope AND "user" = p_user ORDER BY seq LIMIT n - p_max + 1);
           DELETE FROM sb_login_clients WHERE scope = p_scope AND "user" = p_user AND login = ANY (evicted);
           DELETE FROM sb_logins WHERE scope = p_scope AND "user" = p_user AND login = ANY (evicted);
         END IF;
         INSERT INTO sb_logins (scope, "user", login, seq) VALUES (p_scope, p_user, p_login, nextval('sb_login_seq'));
       END IF;
       INSERT INTO sb_login_clients (scope, "user", login, client, node) VALUES (p_scope, p_user, p_login, p_client, p_node)
         ON CONFLICT (scope, "user", login, client) DO UPDATE SET node = excluded.node;
       RETURN ARRAY['1'] || evicted;
     END $fn$;
     CREATE FUNCTION sb_login_release(p_scope text, p_user text, p_login text, p_client text, p_now bigint) RETURNS void LANGUAGE plpgsql AS $fn$
     BEGIN
       PERFORM pg_advisory_xact_lock(1937007716, hashtext(p_scope || ' ' || p_user));
       DELETE FROM sb_login_clients WHERE scope = p_scope AND "user" = p_user AND login = p_login AND client = p_client;
       PERFORM sb_login_prune(p_scope, p_user, p_now);
     END $fn$;

     CREATE TABLE sb_webhook_outbox (
       seq      bigserial PRIMARY KEY,
       id       text NOT NULL UNIQUE,
       event    text NOT NULL,                   -- the event's JSON
       attempts integer NOT NULL DEFAULT 0,
       next_at  bigint NOT NULL
     );
     CREATE FUNCTION sb_webhook_due(p_now bigint, p_limit integer, p_until bigint)
     RETURNS TABLE (r_event text, r_attempts integer, r_next_at bigint) LANGUAGE plpgsql AS $fn$
     DECLARE r record;
     BEGIN
       -- One caller at a time: the due head goes to one node, leased.
       PERFORM pg_advisory_xact_lock(1937007717, 0);
       FOR r IN SELECT o.seq, o.event, o.attempts, o.next_at FROM sb_webhook_outbox o ORDER BY o.seq LIMIT p_limit LOOP
         EXIT WHEN r.next_at > p_now;
         UPDATE sb_webhook_outbox SET next_at = p_until WHERE seq = r.seq;
         r_event := r.event; r_attempts := r.attempts; r_next_at := r.next_at;
         RETURN NEXT;
       END LOOP;
     END $fn$;

     CREATE TABLE sb_occupancy_held (
       member text NOT NULL,                     -- c:<channel> or u:<user>
       node   text NOT NULL,
       PRIMARY KEY (member, node)
     );
     CREATE INDEX sb_occupancy_held_node ON sb_occupancy_held (node);
     CREATE TABLE sb_occupancy_announced (member text PRIMARY KEY);
     CREATE FUNCTION sb_occupy(p_member text, p_node text, p_id text, p_event text, p_next_at bigint) RETURNS boolean LANGUAGE plpgsql AS $fn$
     BEGIN
       PERFORM pg_advisory_xact_lock(1937007718, hashtext(p_member));
       INSERT INTO sb_occupancy_held (member, node) VALUES (p_member, p_node) ON CONFLICT DO NOTHING;
       INSERT INTO sb_occupancy_announced (member) VALUES (p_member) ON CONFLICT DO NOTHING;
       IF NOT FOUND THEN RETURN false; END IF;
       IF p_event IS NOT NULL THEN
         INSERT INTO sb_webhook_outbox (id, event, next_at) VALUES (p_id, p_event, p_next_at) ON CONFLICT (id) DO NOTHING;
       END IF;
       RETURN true;
     END $fn$;
     CREATE FUNCTION sb_vacate(p_member text, p_node text, p_now bigint, p_id text, p_event text, p_next_at bigint, p_settling boolean)
     RETURNS boolean LANGUAGE plpgsql AS $fn$
     BEGIN
       PERFORM pg_advisory_xact_lock(1937007718, hashtext(p_member));
       IF p_settling AND sb_live(p_node, p_now) THEN RETURN false; END IF;
       DELETE FROM sb_occupancy_held WHERE member = p_member AND node = p_node;
       IF EXISTS (SELECT 1 FROM sb_occupancy_held WHERE member = p_member) THEN RETURN false; END IF;
       DELETE FROM sb_occupancy_announced WHERE member = p_member;
       IF NOT FOUND THEN RETURN false; END IF;
       IF p_event IS NOT NULL THEN
         INSERT INTO sb_webhook_outbox (id, event, next_at) VALUES (p_id, p_event, p_next_at) ON CONFLICT (id) DO NOTHING;
       END IF;
       RETURN true;
     END $fn$;

     CREATE TABLE sb_directory_channels (
       node    text NOT NULL,
       channel text NOT NULL,
       count   integer NOT NULL,
       PRIMARY KEY (node, channel)
     );

     CREATE TABLE sb_admin_sessions (
       digest     text PRIMARY KEY,
       expires_at bigint NOT NULL
     );
     CREATE TABLE sb_admin_nodes (
       id         text PRIMARY KEY,
       header     text NOT NULL,
       expires_at bigint NOT NULL
     );
     CREATE TABLE sb_admin_samples (
       seq    bigserial PRIMARY KEY,
       node   text NOT NULL,
       sample text NOT NULL
     );
     CREATE INDEX sb_admin_samples_node ON sb_admin_samples (node, seq);`,
    // Webhook events are ordered per key (outboxKey: c:<channel>, else u:<user>), not all in
    // one line: due answers, per key, the due entries from its oldest (at most p_per_key),
    // among the oldest p_window (the running max of next_at over a key's rows is due).
    `ALTER TABLE sb_webhook_outbox ADD COLUMN key text GENERATED ALWAYS AS (CASE
       WHEN (event::jsonb ->> 'channel') IS NOT NULL THEN 'c:' || (event::jsonb ->> 'channel')
       WHEN (event::jsonb ->> 'user') IS NOT NULL THEN 'u:' || (event::jsonb ->> 'user')
       ELSE '' END) STORED;
     DROP FUNCTION sb_webhook_due(bigint, integer, bigint);
     CREATE FUNCTION sb_webhook_due(p_now bigint, p_limit integer, p_until bigint, p_per_key integer, p_window integer)
     RETURNS TABLE (r_event text, r_attempts integer, r_next_at bigint) LANGUAGE plpgsql AS $fn$
     BEGIN
       -- One caller at a time: a due entry goes to one node, leased.
       PERFORM pg_advisory_xact_lock(1937007717, 0);
       RETURN QUERY
       WITH w AS (SELECT o.seq, o.key, o.next_at FROM sb_webhook_outbox o ORDER BY o.seq LIMIT p_window),
       r AS (SELECT w.seq, w.next_at, row_number() OVER k AS rn, max(w.next_at) OVER k AS upto
             FROM w WINDOW k AS (PARTITION BY w.key ORDER BY w.seq)),
       pick AS (SELECT r.seq, r.next_at FROM r WHERE r.upto <= p_now AND r.rn <= p_per_key ORDER BY r.seq LIMIT p_limit),
       upd AS (UPDATE sb_webhook_outbox o SET next_at = p_until FROM pick WHERE o.seq = pick.seq
               RETURNING o.seq, o.event, o.attempts, pick.next_at AS was)
       SELECT upd.event, upd.attempts, upd.was FROM upd ORDER BY upd.seq;
     END $fn$;`,
  ],
};
