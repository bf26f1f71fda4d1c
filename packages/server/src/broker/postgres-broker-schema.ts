import type { Component } from '../postgres/migrations.ts';

/**
 * Most bytes of a notification payload sent inline: PostgreSQL refuses payloads of 8000
 * bytes or more, so larger messages travel by reference (`sb_notify`).
 */
const MAX_INLINE_PAYLOAD = 7900;

/**
 * The broker's table and `sb_notify`, which every notifying statement goes through (the
 * broker's publishes and the history store's appends). A payload that fits is sent as it is;
 * a larger one is stored in `sb_broker_large` in the same transaction and the notification
 * carries `@<id>`: listeners read it there (it is visible once the notification arrives,
 * both being part of one commit). Old rows are deleted by the brokers (`PostgresBroker`).
 */
export const BROKER_SCHEMA: Component = {
  name: 'broker',
  steps: [
    `CREATE TABLE sb_broker_large (
       id   bigserial PRIMARY KEY,
       at   bigint NOT NULL,                  -- Unix ms, for clean-up
       body text NOT NULL
     );
     CREATE INDEX sb_broker_large_at ON sb_broker_large (at);
     CREATE FUNCTION sb_notify(p_channel text, p_payload text, p_now bigint) RETURNS void
     LANGUAGE plpgsql AS $fn$
     DECLARE big bigint;
     BEGIN
       IF octet_length(p_payload) > ${MAX_INLINE_PAYLOAD} THEN
         INSERT INTO sb_broker_large (at, body) VALUES (p_now, p_payload) RETURNING id INTO big;
         PERFORM pg_notify(p_channel, '@' || big);
       ELSE
         PERFORM pg_notify(p_channel, p_payload);
       END IF;
     END
     $fn$;
     CREATE FUNCTION sb_notify_many(p_channels text[], p_payloads text[], p_now bigint) RETURNS void
     LANGUAGE plpgsql AS $fn$
     BEGIN
       FOR i IN 1 .. coalesce(array_length(p_channels, 1), 0) LOOP
         PERFORM sb_notify(p_channels[i], p_payloads[i], p_now);
       END LOOP;
     END
     $fn$;`,
  ],
};
