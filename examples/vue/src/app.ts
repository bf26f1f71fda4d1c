// The Vue 3 example: private messages between users who are online, over Switchboard.
// The Socket.IO "private messaging" tutorial, without its server code: the gateway keeps
// who is online (presence on `dm:lobby`), delivers private messages (`client.send`) to each
// user's personal channel `#<user>`, and keeps them for users who are offline (history).
import { computed, createApp, nextTick, reactive, ref } from 'vue';
import { Switchboard } from '@switchboard/client';

/** What a private message carries (the SDK's `data`, typed with `subscribe<Dm>`). */
interface Dm {
  text: string;
}

/** One line of a conversation. */
interface Line {
  key: string;
  from: string;
  to: string;
  text: string;
}

const LOBBY = 'dm:lobby';
const USER_KEY = 'switchboard-vue-example-user';

/** A gateway token for `user` from this app's backend (`POST /api/token`, server.ts). */
async function fetchToken(user: string): Promise<string> {
  const r = await fetch('/api/token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user }) });
  if (!r.ok) throw new Error(`the token endpoint answered ${r.status}`);
  return ((await r.json()) as { token: string }).token;
}

const App = {
  setup() {
    const me = ref('');
    const name = ref(sessionStorage.getItem(USER_KEY) ?? '');
    const connection = ref('signed out');
    /** Online users (not me) → their connection count. */
    const online = reactive(new Map<string, number>());
    const selected = ref<string | null>(null);
    const lines = ref<Line[]>([]);
    const unread = reactive(new Map<string, number>());
    const draft = ref('');
    const failure = ref('');
    const list = ref<HTMLElement | null>(null);
    let client: Switchboard | null = null;

    const users = computed(() => [...online.keys()].sort());
    const conversation = computed(() => lines.value.filter((l) => (l.from === selected.value && l.to === me.value) || (l.from === me.value && l.to === selected.value)));
    const scrollDown = () => void nextTick(() => list.value?.scrollTo({ top: list.value.scrollHeight }));

    function signIn(): void {
      const user = name.value.trim();
      if (!user) return;
      sessionStorage.setItem(USER_KEY, user);
      me.value = user;
      const config = fetch('/config.json').then((r) => r.json() as Promise<{ gateway: string }>);
      void config.then(({ gateway }) => connect(gateway, user));
    }

    function connect(gateway: string, user: string): void {
      client = new Switchboard(gateway, { token: () => fetchToken(user) });
      client.on('state', ({ state }) => (connection.value = state));
      client.on('closed', ({ reason }) => (failure.value = `disconnected for good (${reason})`));

      // Who is online: a snapshot on every (re)subscribe, then join/leave.
      const lobby = client.subscribe(LOBBY);
      lobby.on('subscribed', () => {
        void client!.presence(LOBBY).then((entries) => {
          online.clear();
          for (const e of Object.values(entries)) if (e.user !== user) online.set(e.user, e.connections);
        });
      });
      lobby.on('join', ({ user: who }) => { if (who !== user) online.set(who, (online.get(who) ?? 0) + 1); });
      lobby.on('leave', ({ user: who }) => {
        const n = (online.get(who) ?? 1) - 1;
        if (n > 0) online.set(who, n);
        else online.delete(who);
      });

      // My inbox: the last 50 private messages (those sent while I was away too), then live ones.
      const inbox = client.subscribe<Dm>(`#${user}`, { rewind: 50 });
      inbox.on('message', (m) => {
        const from = m.from ?? 'server';
        lines.value.push({ key: `${m.epoch ?? ''}:${m.offset ?? m.id}`, from, to: user, text: m.data.text });
        if (from !== selected.value) unread.set(from, (unread.get(from) ?? 0) + 1);
        else scrollDown();
      });
    }

    function open(user: string): void {
      selected.value = user;
      unread.delete(user);
      scrollDown();
    }

    async function send(): Promise<void> {
      const text = draft.value.trim();
      const to = selected.value;
      if (!text || !to || !client) return;
      draft.value = '';
      failure.value = '';
      try {
        const r = await client.send(to, { text } satisfies Dm);
        lines.value.push({ key: `sent:${r.id ?? lines.value.length}`, from: me.value, to, text });
        scrollDown();
      } catch (err) {
        failure.value = `not sent: ${(err as Error).message}`;
        draft.value = text;
      }
    }

    if (name.value) signIn();
    return { me, name, connection, users, online, selected, conversation, unread, draft, failure, list, signIn, open, send };
  },
  template: `
   <div class="layout">
    <aside>
      <form v-if="!me" @submit.prevent="signIn">
        <input v-model="name" aria-label="Your name" placeholder="your name" autofocus>
        <button>Sign in</button>
      </form>
      <template v-else>
        <p><b id="me">{{ me }}</b> <span class="status" id="connection">{{ connection }}</span></p>
        <h2>Online</h2>
        <p v-if="users.length === 0" class="status">nobody else yet: open this page in another browser</p>
        <ul class="users" id="users">
          <li v-for="u in users" :key="u" :class="{ selected: u === selected }">
            <button @click="open(u)">{{ u }}<span v-if="unread.get(u)" class="unread">{{ unread.get(u) }}</span></button>
          </li>
        </ul>
      </template>
    </aside>
    <main>
      <template v-if="selected">
        <h2>{{ selected }}</h2>
        <ul class="messages" id="messages" ref="list">
          <li v-for="l in conversation" :key="l.key" :class="{ mine: l.from === me }"><b>{{ l.from }}</b> {{ l.text }}</li>
        </ul>
        <p v-if="failure" class="status" id="failure">{{ failure }}</p>
        <form @submit.prevent="send">
          <input v-model="draft" aria-label="Message" placeholder="a private message">
          <button>Send</button>
        </form>
      </template>
      <p v-else-if="me" class="status">choose someone on the left</p>
    </main>
   </div>
  `,
};

createApp(App).mount('#app');
