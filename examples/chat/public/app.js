// The chat page: a login screen, then the chat over one Switchboard connection per tab.
import { Switchboard } from '@switchboard/client';
import { loadUsers, login, logout, tokenProvider, userOf } from './auth.js';
import { ChatModel } from './chat-model.js';
import { ChatView } from './view.js';

const $ = (id) => document.getElementById(id);
const config = await (await fetch('/config.json')).json();
const KEY = config.tokenStorageKey;

/** What runs while logged in; `window.chat` for a look from the browser console. */
let session;

function show(view) {
  $('login-view').hidden = view !== 'login';
  $('chat-view').hidden = view !== 'chat';
  $('me').hidden = view !== 'chat';
  if (view === 'login') {
    $('kicked').hidden = true;
    $('transport').hidden = true; // a transport only means something while connected
    setStatus('offline', 'Not logged in');
    $('login-user').focus();
  }
}

/** The composer works while the client can send (connected, or reconnecting: the SDK queues); not once it stopped. */
function setComposer(enabled, why = '') {
  $('text').disabled = !enabled;
  $('composer').querySelector('button').disabled = !enabled;
  $('text').title = why;
  if (!enabled) $('text').placeholder = why;
}

function setStatus(state, text) {
  $('status').dataset.state = state;
  $('status-text').textContent = text;
}

/** Connection status from the SDK's events, with the countdown to the next reconnect. */
function trackStatus(client) {
  let countdown;
  const stop = () => clearInterval(countdown);
  client.on('connecting', ({ attempt }) => { stop(); setStatus('connecting', attempt > 0 ? 'Reconnecting…' : 'Connecting…'); });
  client.on('connected', ({ user, transport }) => {
    stop();
    setStatus('connected', `Connected as ${user}`);
    // Which transport carries the chat: websocket, or a fallback where WebSocket is blocked.
    $('transport').textContent = transport;
    $('transport').title = `transport: ${transport}`;
    $('transport').hidden = false;
  });
  client.on('disconnected', ({ reconnectInMs }) => {
    stop();
    if (reconnectInMs === null) return setStatus('offline', 'Offline · waiting for the network');
    const at = Date.now() + reconnectInMs;
    const tick = () => setStatus('offline', `Offline · reconnecting in ${Math.max(0, Math.ceil((at - Date.now()) / 1000))} s`);
    tick();
    countdown = setInterval(tick, 250);
  });
  client.on('closed', stop);
}

function start(token) {
  if (session) return;
  const me = userOf(token);
  // `?transport=sse` (or http-stream, long-polling, websocket) uses that transport only: try
  // the chat as it runs where WebSocket is blocked. Without it, the SDK picks and falls back itself.
  const only = new URLSearchParams(location.search).get('transport');
  const client = new Switchboard(config.gateway, { token: tokenProvider(KEY), tokenStorageKey: KEY, ...(only ? { transports: [only] } : {}) });
  const model = new ChatModel(client, { me, rooms: config.rooms, storage: localStorage, loadUsers });
  const view = new ChatView(model);
  session = { client, model, view };
  window.chat = session;
  trackStatus(client);
  client.on('kicked', () => {
    // Single sign-on: this login was replaced by a newer one elsewhere. The SDK does not reconnect.
    $('kicked').hidden = false;
    setComposer(false, 'Disconnected: "Use the chat here" to write again');
    $('reclaim').focus();
  });
  client.on('connected', () => {
    setComposer(true);
    view.update();
    model.retryFailed(); // what failed while this window was disconnected is sent now
  });
  client.on('closed', ({ reason }) => {
    setComposer(false, 'Disconnected');
    if (reason === 'session_replaced') return setStatus('closed', 'Disconnected');
    stop(reason === 'logout' || reason === 'client_closed' ? '' : 'Please log in again.');
  });
  client.on('error', ({ error }) => console.warn(`chat: ${error.message}`));
  show('chat');
  $('text').focus();
}

/** Leaves the chat view (logged out here or in another tab, or the login ended). */
function stop(message) {
  if (!session) return;
  const { view, client } = session;
  session = undefined;
  window.chat = undefined;
  view.destroy();
  client.close();
  $('login-error').textContent = message;
  show('login');
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  const button = e.submitter ?? $('login-form').querySelector('button');
  button.disabled = true;
  try {
    start(await login($('login-user').value.trim(), KEY));
  } catch (err) {
    $('login-error').textContent = `Could not log in: ${err.message}`;
  } finally {
    button.disabled = false;
  }
});

$('logout').addEventListener('click', () => session && void logout(session.client));
$('reclaim').addEventListener('click', () => {
  $('kicked').hidden = true;
  session?.client.connect(); // takes the login back: the other one is replaced in turn
});

// A login in another tab: join in. (A logout there reaches this tab's SDK, which closes.)
window.addEventListener('storage', (e) => {
  if ((e.key === KEY || e.key === null) && e.newValue && !session) start(e.newValue);
});

const stored = localStorage.getItem(KEY);
if (stored && userOf(stored)) start(stored);
else show('login');
