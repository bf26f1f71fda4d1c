/**
 * Pusher socket ids (`<digits>.<digits>`, as every Pusher library checks them) are the
 * gateway's connection ids written another way: a connection id is `c_` and 9 random bytes
 * (base64url); its socket id is the first 4 bytes and the last 5 as two decimal numbers. So
 * any node turns a `socket_id` (a trigger's exclusion, a signature) into the connection id
 * without asking anyone, and back.
 */

const CONNECTION_ID = /^c_[A-Za-z0-9_-]{12}$/;
const SOCKET_ID = /^(\d{1,10})\.(\d{1,13})$/;

/** The socket id of a connection id (`c_…`); undefined for an id of another shape. */
export function socketIdOf(connectionId: string): string | undefined {
  if (!CONNECTION_ID.test(connectionId)) return undefined;
  const b = Buffer.from(connectionId.slice(2), 'base64url');
  if (b.length !== 9) return undefined;
  return `${b.readUInt32BE(0)}.${b.readUIntBE(4, 5)}`;
}

/** The connection id of a socket id; undefined when it is not one this gateway could have made. */
export function connectionIdOf(socketId: string): string | undefined {
  const m = SOCKET_ID.exec(socketId);
  if (!m) return undefined;
  const hi = Number(m[1]);
  const lo = Number(m[2]);
  if (hi > 0xffff_ffff || lo > 0xff_ffff_ffff) return undefined;
  const b = Buffer.alloc(9);
  b.writeUInt32BE(hi, 0);
  b.writeUIntBE(lo, 4, 5);
  return `c_${b.toString('base64url')}`;
}
