import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from './support/chromium.ts';
import { freePort, waitFor } from './support/ports.ts';

/**
 * Runs every fenced block of the README and the guides, so they cannot go stale. Each block
 * with a language carries an annotation just above it (an HTML comment, invisible on GitHub):
 *   <!-- doc-test: run -->                        a shell block: must exit 0
 *   <!-- doc-test: background <url> -->           a shell block that keeps running: <url> must answer
 *   <!-- doc-test: save <path> -->                the block is that file's content
 *   <!-- doc-test: node-until <text> -->          a JavaScript block, run with node until it prints <text>
 *   <!-- doc-test: skip (<reason>) -->            not run, for the reason given
 * and standalone steps: <!-- doc-test: browse <url> shows "<text>" --> (Chromium).
 * The documented ports (8080 gateway, 3000 chat, 3001 React example, 3002 the guide's page)
 * are mapped to free ones; commands run in a sandbox that links the repository's packages, so
 * the files a guide creates land there. The guide runs first: its first step is `npm start`.
 */
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const DOCS = ['docs/getting-started.md', 'README.md'];
const sandbox = mkdtempSync(join(tmpdir(), 'sb-docs-'));
const ports = new Map<number, number>();
const background: ChildProcess[] = [];
let browser: Browser | undefined;
const pages = new Map<string, Page>();

interface Step {
  annotation: string;
  block?: { lang: string; body: string };
  line: number;
}

/** The annotated steps of a markdown file; throws on a block with a language but no annotation. */
function stepsOf(file: string): Step[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const steps: Step[] = [];
  let pending: Step | undefined;
  for (let i = 0; i < lines.length; i++) {
    const ann = /^<!-- doc-test: (.+) -->$/.exec(lines[i]!);
    if (ann) {
      if (pending) steps.push(pending);
      pending = { annotation: ann[1]!, line: i + 1 };
      continue;
    }
    const fence = /^```(\S*)$/.exec(lines[i]!);
    if (fence) {
      const start = i;
      const body: string[] = [];
      for (i++; i < lines.length && lines[i] !== '```'; i++) body.push(lines[i]!);
      const lang = fence[1]!;
      if (!lang) continue; // output, a diagram: nothing to run
      if (!pending || pending.line !== start) throw new Error(`${file}:${start + 1}: a \`\`\`${lang} block without a <!-- doc-test: … --> line above it`);
      steps.push({ ...pending, block: { lang, body: body.join('\n') } });
      pending = undefined;
      continue;
    }
    if (pending && lines[i]!.trim() !== '') {
      steps.push(pending);
      pending = undefined;
    }
  }
  if (pending) steps.push(pending);
  return steps;
}

/** The documented ports, replaced by the free ones this run got. */
const mapPorts = (text: string) => text.replace(/(127\.0\.0\.1|localhost):(8080|300[0-2])\b/g, (_m, host: string, port: string) => `${host}:${ports.get(Number(port))}`);

function env(): NodeJS.ProcessEnv {
  // As on a newcomer's machine: no secret or key of their own (npm start's file is used).
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SWITCHBOARD_')));
  return {
    ...clean,
    // The newcomer's PATH: the system's Node, whatever its version; npm and npx bring the project's.
    PATH: (process.env.PATH ?? '').split(':').filter((d) => !d.includes('node_modules')).join(':'),
    SWITCHBOARD_PORT: String(ports.get(8080)), CHAT_PORT: String(ports.get(3000)), REACT_EXAMPLE_PORT: String(ports.get(3001)),
    SWITCHBOARD_STORAGE: 'memory', SWITCHBOARD_LOG_LEVEL: 'warn',
    SWITCHBOARD_DEV_SECRETS: join(sandbox, 'data/dev-secrets.json'),
  };
}

function shell(script: string, keep = false): { proc: ChildProcess; output: () => string; done: Promise<number | null> } {
  let out = '';
  const proc = spawn('bash', ['-euo', 'pipefail', '-c', script], { cwd: sandbox, env: env(), detached: true, stdio: [keep ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const done = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { proc, output: () => out, done };
}

async function runStep(file: string, step: Step): Promise<void> {
  const where = `${file}:${step.line}`;
  const [verb, ...rest] = step.annotation.split(' ');
  const arg = rest.join(' ');
  const body = step.block ? mapPorts(step.block.body) : '';
  if (verb === 'skip') {
    expect(arg, `${where}: a skip says why`).toMatch(/^\(.+\)$/);
  } else if (verb === 'run') {
    const r = shell(body);
    const code = await r.done;
    expect(code, `${where}: ${body}\n${r.output()}`).toBe(0);
  } else if (verb === 'background') {
    const r = shell(body, true); // stdin kept open (esbuild's server stops when it closes)
    background.push(r.proc);
    const url = mapPorts(arg);
    await waitFor(async () => {
      if (r.proc.exitCode !== null) throw new Error(`${where}: exited ${r.proc.exitCode}:\n${r.output()}`);
      return (await fetch(url).catch(() => undefined))?.ok;
    }, 180_000, `${where}: ${url}\n${r.output()}`);
  } else if (verb === 'save') {
    mkdirSync(dirname(join(sandbox, arg)), { recursive: true });
    writeFileSync(join(sandbox, arg), body);
  } else if (verb === 'node-until') {
    const file = join(sandbox, `snippet-${step.line}.mjs`);
    writeFileSync(file, body);
    const r = shell(`exec ${JSON.stringify(process.execPath)} ${JSON.stringify(file)}`); // "Node 22+", as the README says
    try {
      await waitFor(() => r.output().includes(arg), 30_000, `${where}: "${arg}" in the output of the snippet:\n${r.output()}`);
    } finally {
      process.kill(-r.proc.pid!, 'SIGKILL');
    }
  } else if (verb === 'browse') {
    const m = /^(\S+) shows "(.+)"$/.exec(arg);
    if (!m) throw new Error(`${where}: browse <url> shows "<text>"`);
    const url = mapPorts(m[1]!);
    browser ??= await launchChromium();
    let page = pages.get(url);
    if (!page) {
      page = await browser.newPage();
      pages.set(url, page);
      await page.goto(url);
    }
    await expect.poll(() => page!.locator('body').innerText(), { timeout: 30_000, message: `${where}: ${url} shows "${m[2]}"` }).toContain(m[2]!);
  } else {
    throw new Error(`${where}: unknown doc-test annotation "${step.annotation}"`);
  }
}

beforeAll(async () => {
  for (const p of [8080, 3000, 3001, 3002]) ports.set(p, await freePort());
  // The sandbox looks like the clone: the guide's commands run in it, the files it makes stay in it.
  for (const entry of ['node_modules', 'packages', 'examples', 'scripts', 'package.json', 'package-lock.json', 'docs']) {
    symlinkSync(join(ROOT, entry), join(sandbox, entry));
  }
});
afterAll(async () => {
  await browser?.close();
  for (const p of background) if (p.exitCode === null) process.kill(-p.pid!, 'SIGINT');
  await Promise.all(background.map((p) => (p.exitCode !== null ? undefined : new Promise((r) => p.once('exit', r)))));
  rmSync(sandbox, { recursive: true, force: true });
}, 60_000);

describe('docs: every command and snippet runs', () => {
  for (const file of DOCS) {
    it(file, async () => {
      const steps = stepsOf(file);
      expect(steps.filter((s) => !s.annotation.startsWith('skip')).length).toBeGreaterThan(0);
      for (const step of steps) await runStep(file, step);
    }, 600_000);
  }
});
