// The chat's state, fed by the Switchboard SDK: conversations (rooms and private chats),
// their messages in stream order, unread counts, room members and who is online.
// It knows nothing about the DOM: the view subscribes with onChange().

const HISTORY_PAGE = 100;

/** Why a message was not sent, in plain words (the SDK's error codes are for programs). */
export function plainFailure(err) {
  switch (err?.code) {
    case 'closed': return 'you were disconnected; it is sent again when you reconnect';
    case 'queue_full': return 'too many messages waiting while offline; try again when connected';
    case 'permission_denied': return 'you may not write here';
    case 'too_many_requests': return 'too fast; wait a moment and send it again';
    case 'bad_request': return 'the message was refused (too long?)';
    default: return err?.temporary ? 'the server had a problem; it is sent again when you reconnect' : (err?.message ?? String(err));
  }
}

/** A unique message id (the SDK's idempotency key): a retry is stored once. */
export function newId() {
  return globalThis.crypto?.randomUUID?.() ?? `m-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 12)}`;
}

/**
 * One conversation. `kind` is `room` (channel `chat:<name>`) or `dm` (a private chat with
 * `name`, whose messages live in my personal channel `#<me>`).
 */
function conversation(kind, name) {
  return { key: `${kind}:${name}`, kind, name, messages: new Map(), pending: new Map(), members: new Map(), version: 0 };
}

export class ChatModel {
  /**
   * @param {import('@switchboard/client').Switchboard} client  connected (or connecting) SDK client
   * @param {{ me: string, rooms: string[], storage: Storage, loadUsers: () => Promise<string[]> }} o
   */
  constructor(client, o) {
    this.client = client;
    this.me = o.me;
    this.storage = o.storage;
    this.loadUsers = o.loadUsers;
    this.conversations = new Map();
    /** user → online; everyone known, me excluded. */
    this.users = new Map();
    this.listeners = new Set();
    this.readKey = `switchboard-chat:read:${this.me}`;
    this.read = this.readState();
    this.personal = `#${this.me}`;
    for (const room of o.rooms) this.conversations.set(`room:${room}`, conversation('room', room));
    this.active = this.conversations.keys().next().value;

    client.on('online', ({ user }) => this.setOnline(user, true));
    client.on('offline', ({ user }) => this.setOnline(user, false));
    client.on('connected', () => void this.refreshUsers());
    for (const room of o.rooms) this.follow(`chat:${room}`);
    this.follow(this.personal);
  }

  /** Calls `fn(event)` after every change; `event.message` is set for a newly arrived message. */
  onChange(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  changed(event = {}) {
    for (const fn of this.listeners) fn(event);
  }

  // ---- subscriptions --------------------------------------------------------------------

  follow(channel) {
    const sub = this.client.subscribe(channel);
    sub.on('message', (pub) => this.receive(channel, pub, true));
    sub.on('subscribed', ({ resubscribed }) => {
      // First time: load the latest page of history. After a reconnect the SDK has already
      // recovered what was missed, from the last offset it saw.
      if (!resubscribed) void this.loadHistory(channel);
      if (channel !== this.personal) void this.loadMembers(channel);
    });
    sub.on('gap', () => void this.loadHistory(channel, true)); // the stream was reset: reload
    sub.on('join', ({ user }) => this.member(channel, user, +1));
    sub.on('leave', ({ user }) => this.member(channel, user, -1));
    sub.on('error', ({ error }) => console.warn(`chat: ${channel}: ${error.message}`));
  }

  async loadHistory(channel, reset = false) {
    let page;
    try {
      page = await this.client.history(channel, { limit: HISTORY_PAGE, reverse: true });
    } catch (err) {
      return console.warn(`chat: history of ${channel}: ${err.message}`);
    }
    if (reset) for (const c of this.conversations.values()) if (this.channelOf(c) === channel) { c.messages.clear(); c.version++; }
    if (channel !== this.personal) {
      // Rooms: what was said before my first visit is not "unread".
      const c = this.roomOf(channel);
      if (c && !this.read[c.key]) this.markRead(c, page.offset, page.epoch);
    }
    for (const pub of page.publications) this.receive(channel, pub, false);
    this.changed();
  }

  async loadMembers(channel) {
    const c = this.roomOf(channel);
    if (!c) return;
    try {
      const presence = await this.client.presence(channel);
      c.members = new Map(Object.values(presence).map((p) => [p.user, p.connections]));
      // Every page of this app is in every room: the first room tells who is online now.
      if (channel === `chat:${[...this.conversations.values()][0].name}`) {
        for (const user of this.users.keys()) this.users.set(user, c.members.has(user));
        for (const user of c.members.keys()) this.addUser(user, true);
      }
      c.version++;
      this.changed();
    } catch (err) {
      console.warn(`chat: presence of ${channel}: ${err.message}`);
    }
  }

  member(channel, user, delta) {
    const c = this.roomOf(channel);
    if (!c) return;
    const n = (c.members.get(user) ?? 0) + delta;
    if (n > 0) c.members.set(user, n);
    else c.members.delete(user);
    if (delta > 0) this.addUser(user, true);
    c.version++;
    this.changed();
  }

  // ---- users ----------------------------------------------------------------------------

  async refreshUsers() {
    try {
      for (const user of await this.loadUsers()) this.addUser(user);
      this.changed();
    } catch (err) {
      console.warn(`chat: user list: ${err.message}`);
    }
  }

  addUser(user, online) {
    if (user === this.me || !user) return;
    if (!this.users.has(user)) this.users.set(user, false);
    if (online !== undefined) this.users.set(user, online);
  }

  setOnline(user, online) {
    this.addUser(user, online);
    this.changed();
  }

  /** The private chat with `user` (created on first use). */
  dm(user) {
    const key = `dm:${user}`;
    let c = this.conversations.get(key);
    if (!c) this.conversations.set(key, (c = conversation('dm', user)));
    return c;
  }

  // ---- messages ---------------------------------------------------------------------------

  channelOf(c) {
    return c.kind === 'room' ? `chat:${c.name}` : this.personal;
  }

  /** The room conversation of a channel `chat:<name>`, if it is one of ours. */
  roomOf(channel) {
    return this.conversations.get(`room:${channel.slice('chat:'.length)}`);
  }

  receive(channel, pub, live) {
    const data = pub.data ?? {};
    let c;
    if (channel === this.personal) {
      const peer = pub.from === this.me ? data.to : pub.from;
      if (typeof peer !== 'string' || !peer) return;
      this.addUser(peer);
      c = this.dm(peer);
    } else {
      c = this.roomOf(channel);
      if (!c) return;
    }
    const msg = { id: pub.id, from: pub.from ?? 'server', text: String(data.text ?? ''), ts: pub.ts ?? Date.now(), offset: pub.offset, epoch: pub.epoch };
    const key = msg.offset ?? msg.id ?? newId();
    if (c.messages.has(key)) return;
    c.messages.set(key, msg);
    if (msg.id) c.pending.delete(msg.id);
    c.version++;
    if (live) this.changed({ message: msg, conversation: c });
  }

  /** Messages of a conversation, oldest first, then the ones still being sent. */
  messagesOf(c) {
    const sent = [...c.messages.values()].sort((a, b) => (a.offset ?? 0) - (b.offset ?? 0) || a.ts - b.ts);
    return [...sent, ...c.pending.values()];
  }

  /** Sends to the active conversation. Shows the message as pending until it comes back on its channel. */
  async post(c, text) {
    const id = newId();
    const pending = { id, from: this.me, text, ts: Date.now(), pending: true };
    c.pending.set(id, pending);
    c.version++;
    this.changed();
    await this.deliver(c, pending);
  }

  /** Sends a pending message (again: its id makes a retry land once). */
  async deliver(c, pending) {
    const { id, text } = pending;
    try {
      if (c.kind === 'room') await this.client.publish(`chat:${c.name}`, { text }, { id });
      else await this.client.send(c.name, { text, to: c.name }, { id });
    } catch (err) {
      if (!c.pending.has(id)) return;
      pending.failed = plainFailure(err);
      pending.retry = err?.code === 'closed' || err?.temporary === true;
      c.version++;
      this.changed();
    }
  }

  /** Sends again the messages that failed for a reason a reconnect cures (called once connected). */
  retryFailed() {
    for (const c of this.conversations.values()) {
      for (const p of c.pending.values()) {
        if (!p.failed || !p.retry) continue;
        p.failed = undefined;
        p.retry = false;
        c.version++;
        void this.deliver(c, p);
      }
    }
    this.changed();
  }

  // ---- unread -----------------------------------------------------------------------------

  unread(c) {
    const mark = this.read[c.key];
    let n = 0;
    for (const m of c.messages.values()) {
      if (m.from === this.me || m.offset === undefined) continue;
      if (!mark || mark.epoch !== m.epoch || m.offset > mark.offset) n++;
    }
    return n;
  }

  /** Marks everything in `c` as read (when the user looks at it). */
  markRead(c, offset, epoch) {
    if (offset === undefined) {
      for (const m of c.messages.values()) {
        if (m.offset !== undefined && (offset === undefined || m.offset > offset)) ({ offset, epoch } = m);
      }
    }
    if (offset === undefined) return;
    const old = this.read[c.key];
    if (old && old.epoch === epoch && old.offset >= offset) return;
    this.read[c.key] = { epoch, offset };
    try {
      this.storage.setItem(this.readKey, JSON.stringify(this.read));
    } catch {
      // storage full or disabled: unread counts reset on reload
    }
  }

  readState() {
    try {
      return JSON.parse(this.storage.getItem(this.readKey) ?? '{}') ?? {};
    } catch {
      return {};
    }
  }
}
