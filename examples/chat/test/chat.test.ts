import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../../test/support/chromium.ts';
import { waitFor } from '../../../test/support/ports.ts';
import {
  entry, expectConnected, logIn, openChat, openConversation, presence, publishApi, recordSdk, say, sdkLog, sdkState, shown, startStack,
  TOKEN_STORAGE_KEY, type Stack,
} from './helpers.ts';

// Every run takes the screenshot into test-results/; SWITCHBOARD_UPDATE_SCREENSHOTS=1 refreshes the README's copy.
const SCREENSHOT = fileURLToPath(new URL(process.env.SWITCHBOARD_UPDATE_SCREENSHOTS === '1' ? '../../../docs/images/chat.png' : '../../../test-results/chat.png', import.meta.url));

let stack: Stack;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchChromium()]);
}, 120_000);
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((c) => c.close()));
});
afterAll(async () => {
  await browser?.close();
  await stack?.close();
});

/** A fresh browser profile: its own cookies and localStorage, i.e. another login. */
async function newBrowser(viewport = { width: 1100, height: 720 }): Promise<BrowserContext> {
  const c = await browser.newContext({ viewport });
  contexts.push(c);
  return c;
}

const errorsOf = (page: Page) => (page as Page & { errors: string[] }).errors;

describe('the chat in Chromium', { timeout: 120_000 }, () => {
  it('two users chat in real time: room messages, presence, online status, a private message with an unread count', async () => {
    const [alice, bob] = [await openChat(await newBrowser(), stack.chat.url), await openChat(await newBrowser(), stack.chat.url)];
    await logIn(alice, 'alice');
    await logIn(bob, 'bob');

    // both are in #lobby: each sees the other online and in the room
    await expect.poll(() => entry(alice, 'bob').textContent()).toContain('(online)');
    await expect.poll(() => alice.locator('#conv-sub').textContent()).toBe('2 here: alice, bob');

    await say(alice, 'Hi Bob!');
    await expect.poll(() => shown(bob)).toEqual(['Hi Bob!']);
    await say(bob, 'Hello Alice');
    await expect.poll(() => shown(alice)).toEqual(['Hi Bob!', 'Hello Alice']);
    await expect.poll(() => shown(bob)).toEqual(['Hi Bob!', 'Hello Alice']);

    // a private message: bob sees an unread count on alice until he opens the conversation
    await openConversation(alice, 'bob');
    await say(alice, 'Psst, lunch at noon?');
    await expect.poll(() => shown(alice)).toEqual(['Psst, lunch at noon?']);
    await expect.poll(() => entry(bob, 'alice').textContent()).toContain('1 unread');
    await expect.poll(() => bob.locator('#announcer').textContent()).toBe('alice privately: Psst, lunch at noon?');
    await openConversation(bob, 'alice');
    await expect.poll(() => shown(bob)).toEqual(['Psst, lunch at noon?']);
    expect(await entry(bob, 'alice').textContent()).not.toContain('unread');
    await say(bob, 'Sure!');
    await expect.poll(() => shown(alice)).toEqual(['Psst, lunch at noon?', 'Sure!']);

    // a message in another room raises that room's count
    await openConversation(bob, '#random');
    await openConversation(alice, '#random');
    await openConversation(bob, '#lobby');
    await say(alice, 'Anyone seen the new release notes?');
    await expect.poll(() => entry(bob, '#random').textContent()).toContain('1 unread');
    await openConversation(alice, '#lobby');

    // a narrow window: no horizontal scrolling, rooms and people behind a button
    await alice.setViewportSize({ width: 360, height: 640 });
    expect(await alice.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    expect(await alice.locator('#sidebar').isVisible()).toBe(false);
    await alice.getByRole('button', { name: /Rooms & people/ }).click();
    await openConversation(alice, 'bob');
    expect(await alice.locator('#sidebar').isVisible()).toBe(false);
    expect(errorsOf(alice).concat(errorsOf(bob))).toEqual([]);
  });
  it('a private message to an offline user reaches them when they log in', async () => {
    const dave = await openChat(await newBrowser(), stack.chat.url);
    await logIn(dave, 'dave');
    await dave.getByRole('button', { name: 'Log out' }).click();
    await expect.poll(() => dave.getByLabel('User name').isVisible()).toBe(true);

    const carol = await openChat(await newBrowser(), stack.chat.url);
    await logIn(carol, 'carol');
    await expect.poll(() => entry(carol, 'dave').textContent()).toContain('(offline)');
    await openConversation(carol, 'dave');
    await expect.poll(() => carol.locator('#conv-sub').textContent()).toContain('they get your messages when they log in');
    await say(carol, 'Call me when you are back');
    await say(carol, 'It is about the launch');
    await expect.poll(() => shown(carol)).toEqual(['Call me when you are back', 'It is about the launch']);

    await logIn(dave, 'dave');
    await expect.poll(() => entry(dave, 'carol').textContent()).toContain('2 unread');
    await openConversation(dave, 'carol');
    await expect.poll(() => shown(dave)).toEqual(['Call me when you are back', 'It is about the launch']);
    await say(dave, 'Back now');
    await expect.poll(() => shown(carol)).toEqual(['Call me when you are back', 'It is about the launch', 'Back now']);
    // a reload shows the same conversation from history, nothing unread
    await dave.reload();
    await expectConnected(dave, 'dave');
    await expect.poll(() => shown(dave)).toEqual(['Call me when you are back', 'It is about the launch', 'Back now']);
    expect(await entry(dave, 'carol').textContent()).not.toContain('unread');
    expect(errorsOf(dave).concat(errorsOf(carol))).toEqual([]);
  });

  it('a second login of the same user replaces the first: banner shown, no reconnect', async () => {
    const first = await openChat(await newBrowser(), stack.chat.url);
    await logIn(first, 'erin');
    await recordSdk(first);
    const second = await openChat(await newBrowser(), stack.chat.url);
    await logIn(second, 'erin');

    await expect.poll(() => first.getByRole('alert').filter({ hasText: 'You logged in somewhere else' }).isVisible()).toBe(true);
    expect(await first.locator('#status-text').textContent()).toBe('Disconnected');
    expect(await sdkState(first)).toBe('closed'); // terminal: the SDK schedules no reconnect
    expect((await sdkLog(first)).map((e) => e.n)).toEqual(['kicked', 'closed']);
    expect((await sdkLog(first)).at(-1)).toMatchObject({ code: 3504, reason: 'session_replaced' });
    await expectConnected(second, 'erin');
    expect((await presence(stack.gateway, 'chat:lobby')).erin).toBe(1);

    // while kicked: the composer is off, and a message that could not go says so in plain words
    expect(await first.locator('#text').isDisabled()).toBe(true);
    expect(await first.getByRole('button', { name: 'Send' }).isDisabled()).toBe(true);
    await first.evaluate(() => (window as any).chat.model.post((window as any).chat.view.current(), 'sent after the kick'));
    await expect.poll(() => first.locator('#messages li.failed .state').textContent()).toBe('not sent: you were disconnected; it is sent again when you reconnect');

    // "Use the chat here" takes it back (the failed message is sent), and the other login is the one replaced now
    await first.getByRole('button', { name: 'Use the chat here' }).click();
    await expectConnected(first, 'erin');
    expect(await first.locator('#text').isDisabled()).toBe(false);
    await expect.poll(() => shown(first)).toContain('sent after the kick');
    expect(await first.locator('#messages li.failed').count()).toBe(0);
    expect(errorsOf(first)).toEqual([]);
    await expect.poll(() => second.getByRole('alert').filter({ hasText: 'You logged in somewhere else' }).isVisible()).toBe(true);
  });

  it('two tabs of one login never kick each other (reloads, reconnects); only a new login kicks them, both', async () => {
    const context = await newBrowser();
    const tab1 = await openChat(context, stack.chat.url);
    await logIn(tab1, 'tess');
    const tab2 = await openChat(context, stack.chat.url);
    await expectConnected(tab2, 'tess');
    await Promise.all([recordSdk(tab1), recordSdk(tab2)]);
    await expect.poll(async () => (await presence(stack.gateway, 'chat:lobby')).tess).toBe(2);
    // a reload of one tab is a new connection of the same login: nobody kicked
    await tab2.reload();
    await expectConnected(tab2, 'tess');
    await recordSdk(tab2);
    await expect.poll(async () => (await presence(stack.gateway, 'chat:lobby')).tess).toBe(2);
    for (const tab of [tab1, tab2]) {
      expect(await tab.getByRole('alert').filter({ hasText: 'You logged in somewhere else' }).isVisible()).toBe(false);
      expect((await sdkLog(tab)).filter((e) => e.n === 'kicked')).toEqual([]);
    }
    // a new login (another browser) replaces this one: both tabs are told, neither reconnects
    const other = await openChat(await newBrowser(), stack.chat.url);
    await logIn(other, 'tess');
    for (const tab of [tab1, tab2]) {
      await expect.poll(() => tab.getByRole('alert').filter({ hasText: 'You logged in somewhere else' }).isVisible()).toBe(true);
      expect((await sdkLog(tab)).map((e) => e.n)).toEqual(['kicked', 'closed']);
    }
    await expect.poll(async () => (await presence(stack.gateway, 'chat:lobby')).tess).toBe(1);
    expect(errorsOf(tab1).concat(errorsOf(tab2), errorsOf(other))).toEqual([]);
  });

  it('two tabs of one login: a token refreshed in one tab is used by the other; logout in one tab disconnects both', async () => {
    const { startChatServer } = await import('../src/chat-server.ts');
    // tokens that live 20 s: the SDK renews them halfway, with time to spare on a loaded machine
    const shortLived = await startChatServer({ secret: 'chat-test-secret-0123456789abcdef', sdkDir: stack.dir, gatewayUrl: stack.gateway.wsUrl, tokenTtlSec: 20 });
    try {
      const context = await newBrowser();
      const tab1 = await openChat(context, shortLived.url);
      await logIn(tab1, 'frank');
      const tab2 = await openChat(context, shortLived.url);
      await expectConnected(tab2, 'frank'); // the token is in localStorage: no second login
      await Promise.all([recordSdk(tab1), recordSdk(tab2)]);
      const renewals: string[] = [];
      for (const [name, tab] of [['tab1', tab1], ['tab2', tab2]] as const) {
        tab.on('request', (r) => { if (r.url().endsWith('/api/token')) renewals.push(name); });
      }
      const first = await tab1.evaluate((k) => localStorage.getItem(k), TOKEN_STORAGE_KEY);

      await waitFor(async () => (await sdkLog(tab1)).some((e) => e.n === 'token') && (await sdkLog(tab2)).some((e) => e.n === 'token'), 25_000, 'both tabs presented a new token');
      const second = await tab1.evaluate((k) => localStorage.getItem(k), TOKEN_STORAGE_KEY);
      expect(second).not.toBe(first);
      const exp = JSON.parse(Buffer.from(second!.split('.')[1]!, 'base64url').toString()).exp;
      // one tab asked the server; the other took the token it wrote; neither reconnected
      expect(renewals).toHaveLength(1);
      for (const tab of [tab1, tab2]) {
        const log = await sdkLog(tab);
        expect(log.find((e) => e.n === 'token')).toEqual({ n: 'token', expiresAt: exp });
        expect(log.filter((e) => e.n === 'connecting')).toEqual([]);
      }

      await tab1.getByRole('button', { name: 'Log out' }).click();
      for (const tab of [tab1, tab2]) await expect.poll(() => tab.getByLabel('User name').isVisible()).toBe(true);
      expect((await sdkLog(tab2)).at(-1)).toMatchObject({ n: 'closed', reason: 'logout' });
      expect(await tab2.evaluate((k) => localStorage.getItem(k), TOKEN_STORAGE_KEY)).toBeNull();
      await waitFor(async () => !(await presence(stack.gateway, 'chat:lobby')).frank, 5000, 'the gateway saw both tabs close');
      // the login is over too: the token endpoint refuses this browser now
      expect((await context.request.post(`${shortLived.url}/api/token`)).status()).toBe(401);
    } finally {
      await shortLived.close();
    }
  });
  it('the gateway restarts: pages reconnect and recover from their last offset, nothing lost, nothing twice', async () => {
    const gina = await openChat(await newBrowser(), stack.chat.url);
    const hankBrowser = await newBrowser();
    const hank = await openChat(hankBrowser, stack.chat.url);
    await logIn(gina, 'gina');
    await logIn(hank, 'hank');
    await openConversation(gina, '#help');
    await openConversation(hank, '#help');
    await say(gina, 'before the crash');
    await expect.poll(() => shown(hank)).toEqual(['before the crash']);

    // hank loses his network; gina goes on talking
    await hankBrowser.setOffline(true);
    await expect.poll(() => hank.locator('#status-text').textContent()).toBe('Offline · waiting for the network');
    await say(gina, 'while hank was offline');
    await expect.poll(() => shown(gina)).toEqual(['before the crash', 'while hank was offline']);

    // the gateway dies (kill -9); gina's page counts down to its next attempt and keeps what she types
    await stack.gateway.kill();
    await expect.poll(() => gina.locator('#status-text').textContent()).toMatch(/^(Offline · reconnecting in \d+ s|Reconnecting…)$/);
    await say(gina, 'during the restart');
    await expect.poll(() => gina.locator('#messages li.pending .text').allTextContents()).toEqual(['during the restart']);
    await stack.gateway.restart();
    await expectConnected(gina, 'gina');
    await expect.poll(() => shown(gina)).toEqual(['before the crash', 'while hank was offline', 'during the restart']);

    // hank is back: the SDK re-subscribes from the last offset it saw and gets what he missed
    await hankBrowser.setOffline(false);
    await expectConnected(hank, 'hank');
    await expect.poll(() => shown(hank)).toEqual(['before the crash', 'while hank was offline', 'during the restart']);
    await say(hank, 'caught up');
    await expect.poll(() => shown(gina)).toEqual(['before the crash', 'while hank was offline', 'during the restart', 'caught up']);
    // and a reload shows the same, from the durable history
    await hank.reload();
    await expectConnected(hank, 'hank');
    await expect.poll(() => shown(hank)).toEqual(['before the crash', 'while hank was offline', 'during the restart', 'caught up']);
  });

  it('reading older messages: new ones show a cue instead of moving the list; the cue goes back down; days are separated', async () => {
    const page = await openChat(await newBrowser({ width: 900, height: 500 }), stack.chat.url);
    await logIn(page, 'quinn');
    await openConversation(page, '#help');
    const before = (await shown(page)).length; // earlier tests may have written here
    for (let i = 0; i < 30; i++) await publishApi(stack.gateway, 'chat:help', { text: `line ${i}` });
    await expect.poll(async () => (await shown(page)).length).toBe(before + 30);
    expect(await page.locator('#messages li.day').allTextContents()).toEqual(['Today']);
    const list = page.locator('#messages');
    const atBottom = () => list.evaluate((l) => l.scrollHeight - l.scrollTop - l.clientHeight < 40);
    expect(await atBottom()).toBe(true); // followed while at the end
    await list.evaluate((l) => { l.scrollTop = 0; l.dispatchEvent(new Event('scroll')); });
    await publishApi(stack.gateway, 'chat:help', { text: 'while reading' });
    await expect.poll(() => shown(page)).toContain('while reading');
    await expect.poll(() => page.getByRole('button', { name: 'New messages ↓' }).isVisible()).toBe(true);
    expect(await list.evaluate((l) => l.scrollTop)).toBe(0); // not moved
    await page.getByRole('button', { name: 'New messages ↓' }).click();
    expect(await atBottom()).toBe(true);
    expect(await page.getByRole('button', { name: 'New messages ↓' }).isVisible()).toBe(false);
    // a banner that shrinks the list keeps the end in view
    await page.evaluate(() => { document.getElementById('kicked')!.hidden = false; });
    await expect.poll(atBottom).toBe(true);
    expect(errorsOf(page)).toEqual([]);
  });

  it('takes the screenshot for the README', async () => {
    const [maya, noah, olivia] = [await openChat(await newBrowser(), stack.chat.url), await openChat(await newBrowser(), stack.chat.url), await openChat(await newBrowser(), stack.chat.url)];
    await logIn(maya, 'maya');
    await logIn(noah, 'noah');
    await logIn(olivia, 'olivia');
    await openConversation(olivia, '#random');
    await say(olivia, 'Release notes for 0.2 are up, have a look 🎉');
    await openConversation(noah, 'maya');
    await say(noah, 'Are you joining the demo at 3?');
    await say(olivia, 'Quick question about the SDK when you have a minute');
    await openConversation(olivia, 'maya');
    await say(olivia, 'Ping me when you are free');
    await say(noah, 'Thanks!');
    await expect.poll(() => entry(maya, 'noah').textContent()).toContain('2 unread');
    await expect.poll(() => entry(maya, '#random').textContent()).toContain('2 unread');
    await expect.poll(() => entry(maya, 'olivia').textContent()).toContain('1 unread');
    await openConversation(maya, '#lobby');
    await openConversation(noah, '#lobby');
    await openConversation(olivia, '#lobby');
    await say(maya, 'Good morning everyone!');
    await say(noah, 'Morning! The new build is deployed to staging.');
    await say(olivia, 'Great, I will run the browser tests against it.');
    await expect.poll(async () => (await shown(maya)).slice(-3)).toEqual(['Good morning everyone!', 'Morning! The new build is deployed to staging.', 'Great, I will run the browser tests against it.']);
    await maya.locator('#text').fill('Nice, thanks both');
    mkdirSync(fileURLToPath(new URL('.', `file://${SCREENSHOT}`)), { recursive: true });
    await maya.screenshot({ path: SCREENSHOT });
    expect(statSync(SCREENSHOT).size).toBeGreaterThan(10_000);
  });
});
