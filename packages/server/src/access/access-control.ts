import { CloseCode, Disconnect } from '@switchboard/protocol';
import type { AuthenticatedConnection } from '../connection/connection.ts';
import type { ControlMessage } from '../broker/broker.ts';
import type { UnavailableReporter } from '../unavailable.ts';
import { accessRefusal, type AccessRefusal, type AccessStore } from './access-store.ts';

type AccessMessage = Extract<ControlMessage, { type: 'access' }>;

/**
 * Blocks and token revocations as the live connections of a node meet them: the check at
 * authentication (`refusal`), and enforcement when a block or revocation arrives from any
 * node (`onAccessMessage`). An authentication that read the store before such a message
 * arrived checks again once it is in the hub (`changes`, `recheck`), so a block that raced
 * with it cannot let it through.
 */
export class AccessControl {
  private readonly store: AccessStore;
  private readonly failures: UnavailableReporter;
  private changeCount = 0;

  constructor(o: { store: AccessStore; failures: UnavailableReporter }) {
    this.store = o.store;
    this.failures = o.failures;
  }

  /** Counts the block and revoke messages this node has received (compare before and after an await). */
  get changes(): number {
    return this.changeCount;
  }

  /**
   * Why the operator refuses this user or token now (block, or a revocation newer than the
   * token's `iat`), or undefined. A store failure rejects with a temporary error.
   */
  async refusal(user: string, issuedAt: number | null | undefined): Promise<AccessRefusal | undefined> {
    const entry = await this.store.get(user).catch((err) => {
      throw this.failures.unavailable(err, 'access check');
    });
    return accessRefusal(entry, issuedAt);
  }

  /** Checks a live connection again (a block or revocation raced with its authentication). */
  recheck(conn: AuthenticatedConnection): void {
    this.refusal(conn.identity.user, conn.identity.issuedAt).then((refusal) => {
      if (refusal) conn.terminate(new Disconnect(CloseCode.blocked, refusal));
    }, () => { /* reported by refusal; the next block or revoke message closes it */ });
  }

  /** A block or revocation for `msg.user`: closes those of `conns` (the user's, here) it refuses. */
  onAccessMessage(msg: AccessMessage, conns: Iterable<AuthenticatedConnection>): void {
    // Written to the access store before it was sent: new authentications read it there.
    this.changeCount++;
    const rule = msg.action === 'block' ? { blockedUntil: Infinity } : { revokedBefore: msg.before };
    for (const conn of conns) {
      const refusal = accessRefusal(rule, conn.identity.issuedAt);
      if (refusal) conn.terminate(new Disconnect(CloseCode.blocked, refusal));
    }
  }
}
