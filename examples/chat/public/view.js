// Renders a ChatModel into the page's markup (index.html) and turns clicks and keys into actions.

const $ = (id) => document.getElementById(id);
const time = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });

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
    for (const id of ['rooms', 'people', 'messages']) $(id).replaceChildren();
    $('announcer').textContent = '';
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
    const atBottom = this.shown.key !== c.key || list.scrollHeight - list.scrollTop - list.clientHeight < 40;
    this.shown = { key: c.key, version: c.version };
    const msgs = this.model.messagesOf(c);
    list.replaceChildren(...(msgs.length ? msgs.map((m) => this.message(m)) : [el('li', { class: 'empty' }, c.kind === 'room' ? 'No messages yet. Say hello!' : `No messages with ${c.name} yet.`)]));
    if (atBottom) list.scrollTop = list.scrollHeight;
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
