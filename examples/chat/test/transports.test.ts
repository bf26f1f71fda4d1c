import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext } from 'playwright-core';
import { launchChromium } from '../../../test/support/chromium.ts';
import { logIn, openChat, say, shown, startStack, type Stack } from './helpers.ts';

/**
 * The chat where WebSocket is blocked: `?transport=sse` (or `long-polling`) makes the page's
 * SDK use only that transport. It chats with a user on WebSocket, and shows the transport.
 */
let stack: Stack;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  [stack, browser] = await Promise.all([startStack(), launchChromium()]);
}, 120_000);
afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
  await browser?.close();
  await stack?.close();
});

describe.each(['sse', 'long-polling'] as const)('the chat with ?transport=%s', (transport) => {
  it('chats with a WebSocket user in real time and shows the transport it uses', async () => {
    const [a, b] = [await browser.newContext(), await browser.newContext()];
    contexts.push(a, b);
    const fallback = await openChat(a, `${stack.chat.url}/?transport=${transport}`);
    const ws = await openChat(b, stack.chat.url);
    await logIn(fallback, `fb-${transport}`.replace('-polling', ''));
    await logIn(ws, `ws-${transport}`.replace('-polling', ''));
    await expect.poll(() => fallback.locator('#transport').textContent(), { timeout: 20_000 }).toBe(transport);
    await expect.poll(() => ws.locator('#transport').textContent(), { timeout: 20_000 }).toBe('websocket');
    expect(await fallback.evaluate(() => (window as any).chat.client.transport)).toBe(transport);

    await say(fallback, `hello over ${transport}`);
    await expect.poll(() => shown(ws), { timeout: 20_000 }).toContain(`hello over ${transport}`);
    await say(ws, 'hello back over websocket');
    await expect.poll(() => shown(fallback), { timeout: 20_000 }).toContain('hello back over websocket');
    expect((fallback as any).errors).toEqual([]);
  }, 120_000);
});
