// The demo login, as a page sees it: a login is an HttpOnly cookie of the companion server;
// the gateway token (a short-lived JWT) lives in localStorage, where every tab finds it.
import { UnauthorizedError } from '@switchboard/client';

/** The claims of a JWT (`sub`, `exp`, `iat`…), read without verifying; `{}` when unreadable. */
function claims(token) {
  try {
    return JSON.parse(atob(token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/'))) ?? {};
  } catch {
    return {};
  }
}

/** True while a token has more than 60% of its life left: no need to ask for another one. */
export function isFresh(token) {
  const { exp, iat } = claims(token);
  if (typeof exp !== 'number') return false;
  const life = typeof iat === 'number' ? exp - iat : 60;
  return exp - Date.now() / 1000 > life * 0.6;
}

/** The user a token was issued to. */
export function userOf(token) {
  return claims(token).sub;
}

async function post(path, body) {
  const r = await fetch(path, {
    method: 'POST',
    credentials: 'same-origin',
    ...(body ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  const json = r.status === 204 ? {} : await r.json().catch(() => ({}));
  if (!r.ok) {
    const err = new Error(json.error?.message ?? `HTTP ${r.status}`);
    err.status = r.status;
    throw err;
  }
  return json;
}

/** Logs in: the server sets the login cookie and answers a first gateway token. */
export async function login(user, storageKey) {
  const { token } = await post('/api/login', { user });
  localStorage.setItem(storageKey, token); // other tabs see it (storage event) and join in
  return token;
}

/**
 * The SDK's token provider. The SDK calls it to connect with an expired token and shortly
 * before the token expires. Tabs take turns (Web Locks), so when one tab has just fetched a
 * new token the others find it in localStorage: one request per renewal, not one per tab.
 * Writing it to localStorage is what makes the other tabs' SDKs present it on their live
 * connections.
 */
export function tokenProvider(storageKey) {
  const renew = async () => {
    const stored = localStorage.getItem(storageKey);
    if (stored && isFresh(stored)) return stored;
    try {
      const { token } = await post('/api/token');
      localStorage.setItem(storageKey, token);
      return token;
    } catch (err) {
      if (err.status === 401) {
        localStorage.removeItem(storageKey); // the login is over: every tab logs out
        throw new UnauthorizedError('your login has expired');
      }
      throw err;
    }
  };
  return () => (navigator.locks ? navigator.locks.request(`${storageKey}:renew`, renew) : renew());
}

/**
 * Logs out everywhere in this browser: ends the login (cookie), then removes the token
 * through the SDK, which closes this tab's socket and, through localStorage, every other tab's.
 */
export async function logout(client) {
  await post('/api/logout').catch(() => {});
  client.setToken(null);
}

/** Everyone who has logged in (the server's directory). */
export async function loadUsers() {
  const r = await fetch('/api/users', { credentials: 'same-origin' });
  if (!r.ok) throw new Error(`user list: HTTP ${r.status}`);
  return (await r.json()).users;
}
