/**
 * A random command id for publish/send: the idempotency key the server remembers per
 * channel, so it must be unique across reconnects, tabs and devices (128 random bits).
 * Uses `crypto.getRandomValues`, available in browsers (also on plain http) and Node.
 */
export function randomId(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  let out = 'm-';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
