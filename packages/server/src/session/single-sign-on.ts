import { CloseCode, ReplyError } from '@switchboard/protocol';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { limited } from '../log-limit.ts';
import type { Broker } from '../broker/broker.ts';
import type { ChannelResolver } from '../channels.ts';
import { isAuthenticated, type AuthenticatedConnection, type Connection } from '../connection/connection.ts';
import type { LoginLimit, LoginRegistry } from './login-registry.ts';
import { unavailableReporter } from '../unavailable.ts';

/** The registry scope of the deployment-wide policy. */
const DEPLOYMENT_SCOPE = '*';

interface Held {
  /** Scopes this connection holds a slot in. */
  scopes: Set<string>;
  /** namespace → subscribes in flight (a slot is not released under them). */
  inflight: Map<string, number>;
}

/**
 * Single sign-on: how many logins of one user may be live, and who gives way.
 *
 * - The deployment policy (`sessions.maxPerUser`, `sessions.onLimit`) applies when a
 *   connection authenticates.
 * - A namespace policy (`namespaces.<ns>.sessions`) applies, in addition, when a login
 *   subscribes to a channel of that namespace; missing fields inherit the deployment's.
 *   A login holds the namespace slot while it has a channel of it. A namespace can so make
 *   the rule stricter, never looser.
 * - Tabs of one login (same JWT `sid`, or same gateway session) count once and never kick
 *   each other. `kick_oldest` disconnects every connection of the evicted logins on every
 *   node (`3504 session_replaced`, through the broker); `reject_new` refuses the new one.
 */
export class SingleSignOn {
  private readonly config: Config;
  private readonly registry: LoginRegistry;
  private readonly broker: Broker;
  private readonly channels: ChannelResolver;
  private readonly log: Logger;
  private readonly held = new Map<AuthenticatedConnection, Held>();
  /** user → connections admitted but not yet in the hub (a kick must reach them too). */
  private readonly authenticating = new Map<string, Set<AuthenticatedConnection>>();

  constructor(o: { config: Config; registry: LoginRegistry; broker: Broker; channels: ChannelResolver; log: Logger }) {
    this.config = o.config;
    this.registry = o.registry;
    this.broker = o.broker;
    this.channels = o.channels;
    this.log = o.log;
  }

  /** The effective policy of a scope, or undefined when it is unlimited. */
  limitOf(namespace: string | undefined): LoginLimit | undefined {
    const base = this.config.sessions;
    if (namespace === undefined) return base.maxPerUser === null ? undefined : { maxPerUser: base.maxPerUser, onLimit: base.onLimit };
    const ns = this.channels.namespace(namespace)?.sessions;
    if (!ns) return undefined;
    const max = ns.maxPerUser === undefined ? base.maxPerUser : ns.maxPerUser;
    return max === null ? undefined : { maxPerUser: max, onLimit: ns.onLimit ?? base.onLimit };
  }

  /**
   * At authentication (identity set): false when `reject_new` refuses this login. Until
   * `authenticated`, the connection is listed by `authenticatingOf`, so that a kick racing
   * with its authentication (another node evicting this login) still closes it.
   */
  async admit(conn: AuthenticatedConnection): Promise<boolean> {
    const user = conn.identity.user;
    let set = this.authenticating.get(user);
    if (!set) this.authenticating.set(user, (set = new Set()));
    set.add(conn);
    const limit = this.limitOf(undefined);
    return limit ? this.acquire(conn, DEPLOYMENT_SCOPE, limit) : true;
  }

  /** The connection is in the hub now (or gone): kicks find it there. */
  authenticated(conn: Connection): void {
    if (!isAuthenticated(conn)) return;
    const user = conn.identity.user;
    const set = this.authenticating.get(user);
    if (!set || !set.delete(conn)) return;
    if (set.size === 0) this.authenticating.delete(user);
  }

  /** Connections of `user` still authenticating on this node. */
  authenticatingOf(user: string): Iterable<AuthenticatedConnection> {
    return this.authenticating.get(user) ?? [];
  }

  /**
   * Before subscribing to a channel of `namespace`: takes the login's namespace slot.
   * Throws `limit_exceeded` when `reject_new` refuses. Pair every call with `settle`.
   */
  async enterNamespace(conn: AuthenticatedConnection, namespace: string): Promise<void> {
    const limit = this.limitOf(namespace);
    if (!limit) return;
    const h = this.holding(conn);
    h.inflight.set(namespace, (h.inflight.get(namespace) ?? 0) + 1);
    const scope = `ns:${namespace}`;
    if (h.scopes.has(scope)) return;
    if (!(await this.acquire(conn, scope, limit))) {
      this.settle(conn, namespace);
      throw new ReplyError('limit_exceeded', `session_limit: this user already has ${limit.maxPerUser} login(s) using namespace "${namespace}"`);
    }
  }

  /**
   * After a subscribe finished (or failed) and after any unsubscribe: gives the namespace
   * slot back when the connection has no channel of it left.
   */
  settle(conn: AuthenticatedConnection, namespace: string): void {
    const h = this.held.get(conn);
    if (!h) return;
    const n = h.inflight.get(namespace);
    if (n !== undefined) {
      if (n > 1) h.inflight.set(namespace, n - 1);
      else h.inflight.delete(namespace);
    }
    const scope = `ns:${namespace}`;
    if (!h.scopes.has(scope) || h.inflight.has(namespace)) return;
    for (const channel of conn.subscriptions.keys()) if (this.channels.resolve(channel).namespace === namespace) return;
    h.scopes.delete(scope);
    this.release(conn, scope);
  }

  /** The connection is gone: frees every slot it held. */
  disconnected(conn: Connection): void {
    if (!isAuthenticated(conn)) return;
    this.authenticated(conn);
    const h = this.held.get(conn);
    if (!h) return;
    this.held.delete(conn);
    for (const scope of h.scopes) this.release(conn, scope);
  }

  private holding(conn: AuthenticatedConnection): Held {
    let h = this.held.get(conn);
    if (!h) this.held.set(conn, (h = { scopes: new Set(), inflight: new Map() }));
    return h;
  }

  private async acquire(conn: AuthenticatedConnection, scope: string, limit: LoginLimit): Promise<boolean> {
    const id = conn.identity;
    const r = await this.registry.acquire(scope, id.user, id.login, conn.id, limit);
    if (!r.admitted) return false;
    if (conn.state === 'closed') {
      this.release(conn, scope);
      return false;
    }
    this.holding(conn).scopes.add(scope);
    for (const login of r.evicted) {
      limited(this.log).info({ user: id.user, client: conn.id, scope }, 'single sign-on: older login replaced');
      await this.broker.publishControl({ type: 'disconnect', user: id.user, login, code: CloseCode.session_replaced, reason: 'session_replaced' });
    }
    return true;
  }

  private release(conn: AuthenticatedConnection, scope: string): void {
    const id = conn.identity;
    this.registry.release(scope, id.user, id.login, conn.id).catch((err) => unavailableReporter(this.log).report(err, 'login registry release'));
  }
}
