// Renders a ChatModel into the page's markup (index.html) and turns clicks and keys into actions.

const $ = (id) => document.getElementById(id);
const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const date = new Intl.DateTimeFormat(undefined, { weekday: 'long', day: 'numeric', month: 'long', year: 'numeric' });
/** Closer than this to the bottom of the list counts as "at the bottom" (following new messages). */
const NEAR_BOTTOM_PX = 40;

/** "Today", "Yesterday", or the date: the separator above a day's first message. */
function dayLabel(ts, now = new Date()) {
  const d = new Date(ts);
  const midnight = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
  const days = Math.round((midnight(now) - midnight(d)) / 86_400_000);
  return days === 0 ? 'Today' : days === 1 ? 'Yesterday' : date.format(d);
}

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  node.append(...children.filter((c) => c !== undefined && c !== null));
  return node;
}

const srOnly = (text) => el('span', { class: 'sr-only' }, text);

/** An unread badge that reads "3 unread" to a screen reader. */
function badge(n) {
  return n > 0 ? el('span', { class: 'badge' }, String(n), srOnly(' unread')) : undefined;
}

export class ChatView {
  /** @param {import('./chat-model.js').ChatModel} model */
  constructor(model) {
    this.model = model;
    this.shown = { key: undefined, version: -1 };
    this.off = model.onChange((event) => this.update(event));
    this.onVisible = () => this.update();
    document.addEventListener('visibilitychange', this.onVisible);
    this.onSubmit = (e) => {
      e.preventDefault();
      const input = $('text');
      const text = input.value.trim();
      if (!text) return;
      input.value = '';
      void this.model.post(this.current(), text);
    };
    $('composer').addEventListener('submit', this.onSubmit);
    this.onMenu = () => this.toggleMenu();
    $('menu').addEventListener('click', this.onMenu);
    // Following the conversation: true while the list is scrolled to its end. A banner that
    // shrinks the list, or new messages, keep it at the end; reading older ones stops that.
    this.stick = true;
    this.onScroll = () => {
      const list = $('messages');
      this.stick = list.scrollHeight - list.scrollTop - list.clientHeight < NEAR_BOTTOM_PX;
      if (this.stick) $('new-messages').hidden = true;
    };
    $('messages').addEventListener('scroll', this.onScroll);
    this.resized = new ResizeObserver(() => { if (this.stick) this.toBottom(); });
    this.resized.observe($('messages'));
    this.onNewMessages = () => { this.stick = true; this.toBottom(); $('messages').focus(); };
    $('new-messages').addEventListener('click', this.onNewMessages);
    const saved = sessionStorage.getItem('switchboard-chat:active');
    if (saved?.startsWith('dm:')) model.dm(saved.slice(3));
    if (saved && model.conversations.has(saved)) model.active = saved;
    $('me-name').textContent = model.me;
    this.update();
  }

  destroy() {
    this.off();
    document.removeEventListener('visibilitychange', this.onVisible);
    $('composer').removeEventListener('submit', this.onSubmit);
    $('menu').removeEventListener('click', this.onMenu);
    $('messages').removeEventListener('scroll', this.onScroll);
    $('new-messages').removeEventListener('click', this.onNewMessages);
    $('new-messages').hidden = true;
    this.resized.disconnect();
    for (const id of ['rooms', 'people', 'messages']) $(id).replaceChildren();
    $('announcer').textContent = '';
  }

  toBottom() {
    const list = $('messages');
    list.scrollTop = list.scrollHeight;
    $('new-messages').hidden = true;
  }

  current() {
    return this.model.conversations.get(this.model.active);
  }

  open(key) {
    if (key.startsWith('dm:')) this.model.dm(key.slice(3));
    this.model.active = key;
    sessionStorage.setItem('switchboard-chat:active', key);
    this.toggleMenu(false);
    this.update();
    $('text').focus();
  }

  toggleMenu(open = !$('sidebar').classList.contains('open')) {
    $('sidebar').classList.toggle('open', open);
    $('menu').setAttribute('aria-expanded', String(open));
  }

  update(event = {}) {
    const c = this.current();
    if (document.visibilityState === 'visible') this.model.markRead(c);
    if (event.message) this.announce(event.message, event.conversation);
    this.renderRooms();
    this.renderPeople();
    this.renderConversation(c);
  }

  /** Tells screen readers about a new message from someone else (the live region). */
  announce(m, c) {
    if (m.from === this.model.me) return;
    const where = c.kind === 'room' ? `in #${c.name}` : 'privately';
    $('announcer').textContent = `${m.from} ${where}: ${m.text}`;
  }

  item(key, label, extra, c) {
    const active = key === this.model.active;
    return el('li', {},
      el('button', { type: 'button', class: 'conv', 'aria-current': active ? 'true' : undefined, dataset: { key }, onclick: () => this.open(key) },
        ...label, c ? badge(this.model.unread(c)) : undefined, extra));
  }

  renderRooms() {
    const rooms = [...this.model.conversations.values()].filter((c) => c.kind === 'room');
    $('rooms').replaceChildren(...rooms.map((c) => this.item(c.key, [el('span', { class: 'hash', 'aria-hidden': 'true' }, '#'), el('span', { class: 'name' }, c.name)], undefined, c)));
  }

  renderPeople() {
    const users = [...this.model.users.entries()].sort(([a, x], [b, y]) => Number(y) - Number(x) || a.localeCompare(b));
    const rows = users.map(([user, online]) => {
      const c = this.model.conversations.get(`dm:${user}`);
      return this.item(`dm:${user}`, [
        el('span', { class: `presence ${online ? 'on' : 'off'}`, 'aria-hidden': 'true' }),
        el('span', { class: 'name' }, user),
        srOnly(online ? ' (online)' : ' (offline)'),
      ], undefined, c);
    });
    $('people').replaceChildren(...(rows.length ? rows : [el('li', { class: 'empty' }, 'Nobody else yet: open another browser and log in as someone else.')]));
    const total = [...this.model.conversations.values()].reduce((n, c) => n + this.model.unread(c), 0);
    $('menu-count').textContent = total > 0 ? ` (${total} unread)` : '';
  }

  renderConversation(c) {
    const title = c.kind === 'room' ? `#${c.name}` : c.name;
    $('conv-title').textContent = title;
    $('text-label').textContent = c.kind === 'room' ? `Message #${c.name}` : `Message ${c.name} privately`;
    $('text').placeholder = c.kind === 'room' ? `Message #${c.name}` : `Message ${c.name}`;
    if (c.kind === 'room') {
      const members = [...c.members.keys()].sort();
      $('conv-sub').textContent = members.length ? `${members.length} here: ${members.join(', ')}` : 'Nobody here right now';
    } else {
      const online = this.model.users.get(c.name);
      $('conv-sub').textContent = online ? 'Online · private conversation' : 'Offline · they get your messages when they log in';
    }
    if (this.shown.key === c.key && this.shown.version === c.version) return;
    const list = $('messages');
    const switched = this.shown.key !== c.key;
    const before = list.querySelectorAll('li.msg').length;
    if (switched) this.stick = true;
    this.shown = { key: c.key, version: c.version };
    const msgs = this.model.messagesOf(c);
    const items = [];
    let day;
    for (const m of msgs) {
      const label = dayLabel(m.ts);
      if (label !== day) items.push(el('li', { class: 'day', role: 'separator' }, (day = label)));
      items.push(this.message(m));
    }
    list.replaceChildren(...(items.length ? items : [el('li', { class: 'empty' }, c.kind === 'room' ? 'No messages yet. Say hello!' : `No messages with ${c.name} yet.`)]));
    if (this.stick) this.toBottom();
    else if (!switched && msgs.length > before) $('new-messages').hidden = false; // more below: the cue
  }

  message(m) {
    const mine = m.from === this.model.me;
    const state = m.failed ? `not sent: ${m.failed}` : m.pending ? 'sending…' : undefined;
    return el('li', { class: `msg${mine ? ' mine' : ''}${m.pending ? ' pending' : ''}${m.failed ? ' failed' : ''}`, dataset: { offset: m.offset ?? '' } },
      el('div', { class: 'meta' },
        el('span', { class: 'from' }, mine ? `${m.from} (you)` : m.from),
        el('time', { datetime: new Date(m.ts).toISOString() }, time.format(m.ts)),
        state ? el('span', { class: 'state' }, state) : undefined),
      el('p', { class: 'text' }, m.text));
  }
}
