import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePort, waitFor } from './support/ports.ts';
import { mintToken } from '../packages/server/src/index.ts';

const CLI = fileURLToPath(new URL('../packages/server/src/cli.ts', import.meta.url));
const SECRET = 'tls-secret-0123456789abcdef';

/** A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI. */
function selfSigned(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  try {
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '1',
      '-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'pipe' });
  } catch (err) {
    throw new Error(`the TLS test needs the openssl CLI (Debian: apt-get install openssl): ${(err as Error).message}`);
  }
  return { cert, key };
}

function httpsGet(url: string, ca: Buffer): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { ca }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject).end();
  });
}

describe('TLS: --tls-cert / --tls-key', () => {
  let proc: ReturnType<typeof spawn>;
  let port: number;
  let ca: Buffer;
  let out = '';

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-tls-'));
    const { cert, key } = selfSigned(dir);
    ca = readFileSync(cert);
    port = await freePort();
    const config = join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ namespaces: { chat: { clientPublish: true } } }));
    proc = spawn(process.execPath, [CLI, 'serve', '--config', config, '--port', String(port), '--host', '127.0.0.1', '--tls-cert', cert, '--tls-key', key], {
      env: { ...process.env, SWITCHBOARD_JWT_SECRET: SECRET, SWITCHBOARD_STORAGE: 'memory', SWITCHBOARD_LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (d) => (out += d));
    proc.stderr!.on('data', (d) => (out += d));
    await waitFor(() => {
      if (proc.exitCode !== null) throw new Error(`gateway exited: ${out}`);
      return out.includes('switchboard listening');
    }, 15_000, 'TLS gateway');
  });

  afterAll(() => {
    proc?.kill('SIGKILL');
  });

  it('serves https:// and says so in its log', async () => {
    expect(out).toContain(`"http":"https://127.0.0.1:${port}"`);
    expect(out).toContain(`"ws":"wss://127.0.0.1:${port}/ws"`);
    const r = await httpsGet(`https://127.0.0.1:${port}/healthz`, ca);
    expect(r).toEqual({ status: 200, body: '{"status":"ok"}' });
  });

  it('refuses plain HTTP on the TLS port', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/healthz`).then((x) => x.status, (e: Error) => e.message);
    expect(r).not.toBe(200);
  });

  it('a client that does not trust the certificate cannot connect', async () => {
    const err = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`);
      ws.once('open', () => { ws.terminate(); resolve('opened'); });
      ws.once('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? e.message));
    });
    expect(err).toMatch(/SELF_SIGNED|CERT/);
  });

  it('serves wss://: authenticate, subscribe, publish and receive', async () => {
    const t = await mintToken({ sub: 'alice', secret: SECRET, ttlSec: 600, channels: ['chat:room'], publish: ['chat:room'] });
    const ws = new WebSocket(`wss://127.0.0.1:${port}/ws`, { ca, headers: { Authorization: `Bearer ${t}` } });
    const frames: any[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    await waitFor(() => frames.find((f) => f.type === 'auth_success'), 5000, 'auth over wss');
    ws.send(JSON.stringify({ type: 'subscribe', id: 's1', channel: 'chat:room' }));
    await waitFor(() => frames.find((f) => f.type === 'ack' && f.id === 's1'), 5000, 'subscribed over wss');
    ws.send(JSON.stringify({ type: 'publish', id: 'm1', channel: 'chat:room', data: { hello: 'tls' } }));
    await waitFor(() => frames.find((f) => f.type === 'ack' && f.id === 'm1'), 5000, 'ack over wss').catch((e) => { throw new Error(`${e.message}: ${JSON.stringify(frames)}`); });
    const msg = await waitFor(() => frames.find((f) => f.type === 'message' && f.channel === 'chat:room'), 5000, 'message over wss');
    expect(msg).toMatchObject({ data: { hello: 'tls' }, from: 'alice' });
    ws.terminate();
  });
});
