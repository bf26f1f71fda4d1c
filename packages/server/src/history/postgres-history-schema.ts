import type { Component } from '../postgres/migrations.ts';

/**
 * The `history` tables and the append function of `PostgresHistoryStore` (steps are only
 * ever appended: see `migrate`). Times are Unix ms from the gateway's clock.
 *
 * `sb_history_append` stores a batch of publications in one statement (one round trip, one
 * commit): it first locks every stream of the batch in channel order (creating missing ones
 * with their new epoch), so two batches never wait for each other in a cycle; then, in
 * order, answers a live idempotency key with its first offset, or gives the next offset,
 * stores the publication and its key and, when asked, notifies the broker in the same
 * transaction (`sb_notify`): listeners receive it at commit, in commit order, and a
 * stream's commits are in offset order (its row is locked). Each stream is then trimmed to
 * its size and ttl (a prefix: everything before the first publication still young enough).
 */
export const HISTORY_SCHEMA: Component = {
  name: 'history',
  steps: [
    `CREATE TABLE sb_history_streams (
       channel text PRIMARY KEY,
       epoch   text NOT NULL,
       top     bigint NOT NULL                 -- latest offset given out (0: none yet)
     );
     CREATE TABLE sb_history_pubs (
       channel  text NOT NULL,
       "offset" bigint NOT NULL,
       ts       bigint NOT NULL,
       body     text NOT NULL,                 -- the publication's JSON, without offset and epoch
       PRIMARY KEY (channel, "offset")
     );
     CREATE TABLE sb_history_keys (
       channel    text NOT NULL,
       key        text NOT NULL,
       "offset"   bigint NOT NULL,
       expires_at bigint NOT NULL,
       PRIMARY KEY (channel, key)
     );
     CREATE INDEX sb_history_keys_expiry ON sb_history_keys (expires_at);
     CREATE TABLE sb_history_claims (
       channel    text NOT NULL,
       key        text NOT NULL,
       expires_at bigint NOT NULL,
       PRIMARY KEY (channel, key)
     );
     CREATE INDEX sb_history_claims_expiry ON sb_history_claims (expires_at);
     CREATE FUNCTION sb_history_append(
       p_channels text[], p_bodies text[], p_ts bigint[], p_keys text[], p_windows bigint[],
       p_notify text[], p_sizes bigint[], p_min_ts bigint[], p_epochs text[], p_now bigint)
     RETURNS TABLE (r_epoch text, r_offset bigint, r_duplicate boolean)
     LANGUAGE plpgsql AS $fn$
     DECLARE
       i int;
       n int := coalesce(array_length(p_channels, 1), 0);
       ch text;
       e text;
       t bigint;
       seen bigint;
     BEGIN
       FOR ch IN SELECT DISTINCT c FROM unnest(p_channels) AS c ORDER BY c LOOP
         INSERT INTO sb_history_streams AS s (channel, epoch, top)
           VALUES (ch, p_epochs[array_position(p_channels, ch)], 0)
           ON CONFLICT (channel) DO UPDATE SET top = s.top;
       END LOOP;
       FOR i IN 1 .. n LOOP
         ch := p_channels[i];
         SELECT s.epoch, s.top INTO e, t FROM sb_history_streams s WHERE s.channel = ch;
         seen := NULL;
         IF p_keys[i] IS NOT NULL THEN
           SELECT k."offset" INTO seen FROM sb_history_keys k WHERE k.channel = ch AND k.key = p_keys[i] AND k.expires_at > p_now;
         END IF;
         IF seen IS NOT NULL THEN
           r_epoch := e; r_offset := seen; r_duplicate := true;
           RETURN NEXT;
           CONTINUE;
         END IF;
         t := t + 1;
         UPDATE sb_history_streams SET top = t WHERE channel = ch;
         INSERT INTO sb_history_pubs (channel, "offset", ts, body) VALUES (ch, t, p_ts[i], p_bodies[i]);
         IF p_keys[i] IS NOT NULL THEN
           INSERT INTO sb_history_keys AS k (channel, key, "offset", expires_at) VALUES (ch, p_keys[i], t, p_now + p_windows[i])
             ON CONFLICT (channel, key) DO UPDATE SET "offset" = excluded."offset", expires_at = excluded.expires_at;
         END IF;
         IF p_notify[i] IS NOT NULL THEN
           PERFORM sb_notify(p_notify[i], '{"offset":' || t || ',"epoch":"' || e || '",' || substr(p_bodies[i], 2), p_now);
         END IF;
         r_epoch := e; r_offset := t; r_duplicate := false;
         RETURN NEXT;
       END LOOP;
       FOR i IN 1 .. n LOOP
         -- Once per channel (its last publication in the batch carries its retention).
         IF array_position(p_channels, p_channels[i], i + 1) IS NULL THEN
           SELECT s.top INTO t FROM sb_history_streams s WHERE s.channel = p_channels[i];
           DELETE FROM sb_history_pubs p WHERE p.channel = p_channels[i] AND p."offset" < coalesce(
             (SELECT q."offset" FROM sb_history_pubs q
               WHERE q.channel = p_channels[i] AND q."offset" >= t - p_sizes[i] + 1 AND q.ts >= p_min_ts[i]
               ORDER BY q."offset" LIMIT 1),
             t + 1);
         END IF;
       END LOOP;
     END
     $fn$;`,
  ],
};
