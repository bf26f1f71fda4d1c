import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../../test/support/chromium.ts';
import { waitFor } from '../../../test/support/ports.ts';
import {
  entry, expectConnected, logIn, openChat, openConversation, presence, recordSdk, say, sdkLog, sdkState, shown, startStack,
  TOKEN_STORAGE_KEY, type Stack,
} from './helpers.ts';

const SCREENSHOT = fileURLToPath(new URL('../../../docs/images/chat.png', import.meta.url));

let stack: Stack;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchChromium()]);
}, 60_000);
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

describe('the chat in Chromium', () => {
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

    // the screenshot in the README: alice's window, a conversation with a reply in it
    await say(bob, 'Not yet, link?');
    await openConversation(alice, '#lobby');
    await expect.poll(() => shown(alice)).toEqual(['Hi Bob!', 'Hello Alice', 'Not yet, link?']);
    await say(bob, 'Psst alice, check #random too');
    await expect.poll(() => shown(alice)).toHaveLength(4);
    mkdirSync(fileURLToPath(new URL('.', `file://${SCREENSHOT}`)), { recursive: true });
    await alice.locator('#text').fill('Link is in #random');
    await alice.screenshot({ path: SCREENSHOT });

    // a narrow window: no horizontal scrolling, rooms and people behind a button
    await alice.setViewportSize({ width: 360, height: 640 });
    expect(await alice.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    expect(await alice.locator('#sidebar').isVisible()).toBe(false);
    await alice.getByRole('button', { name: /Rooms & people/ }).click();
    await openConversation(alice, 'bob');
    expect(await alice.locator('#sidebar').isVisible()).toBe(false);
    expect(errorsOf(alice).concat(errorsOf(bob))).toEqual([]);
  });
});
