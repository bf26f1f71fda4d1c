import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../src/config.ts';
import { loadConfig } from '../src/cli.ts';
import { devBanner } from '../src/dev-banner.ts';
import { loadDevSecrets, readDevSecrets } from '../src/dev-secrets.ts';

const dir = mkdtempSync(join(tmpdir(), 'sb-devsecrets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('development secrets file', () => {
  it('is made once (mode 0600) and read back the same on every later start', () => {
    const path = join(dir, 'a', 'dev-secrets.json');
    const first = loadDevSecrets(path);
    expect(first.created).toBe(true);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = loadDevSecrets(path);
    expect(again).toEqual({ ...first, created: false });
    expect(readDevSecrets(path)).toEqual({ jwtSecret: first.jwtSecret, apiKey: first.apiKey });
  });

  it('serve --dev without a secret uses it: the same secret and API key on every start', () => {
    const env = { SWITCHBOARD_DEV_SECRETS: join(dir, 'b.json') };
    const one = loadConfig({ dev: true, storage: 'memory' }, env);
    const two = loadConfig({ dev: true, storage: 'memory' }, env);
    expect(one.auth.jwtSecret).toBe(two.auth.jwtSecret);
    expect(one.apiKeys).toEqual([JSON.parse(readFileSync(env.SWITCHBOARD_DEV_SECRETS, 'utf8')).apiKey]);
    // a secret or key of one's own wins, and the file is not made for it
    const own = loadConfig({ dev: true, storage: 'memory' }, { SWITCHBOARD_DEV_SECRETS: join(dir, 'never.json'), SWITCHBOARD_JWT_SECRET: 'mine' });
    expect(own.auth.jwtSecret).toBe('mine');
    expect(() => readDevSecrets(join(dir, 'never.json'))).toThrow(/no development secrets at .*npm start/);
  });

  it('a damaged file is a one-line error that says to delete it', () => {
    const path = join(dir, 'damaged.json');
    writeFileSync(path, '{"jwtSecret":"short"}');
    expect(() => loadDevSecrets(path)).toThrow(ConfigError);
    expect(() => loadDevSecrets(path)).toThrow(/lacks jwtSecret\/apiKey.*delete it/);
    writeFileSync(path, 'not json');
    expect(() => loadDevSecrets(path)).toThrow(/unreadable .*delete it/);
  });
});

describe('the dev banner', () => {
  const gateway = { url: 'http://127.0.0.1:8080', wsUrl: 'ws://127.0.0.1:8080/ws' };

  it('shows the true URLs, the secrets file and the commands, never a secret', () => {
    const text = devBanner({ gateway, chatUrl: 'http://127.0.0.1:3000', apiEnabled: true, admin: false, secretsFile: join(process.cwd(), 'data/dev-secrets.json') });
    expect(text).toContain('DEVELOPMENT MODE');
    expect(text).toContain('Chat      http://127.0.0.1:3000');
    expect(text).toContain('Gateway   http://127.0.0.1:8080   WebSocket ws://127.0.0.1:8080/ws');
    expect(text).toContain('Admin     off (set SWITCHBOARD_ADMIN_PASSWORD');
    expect(text).toContain("Token     npx switchboard token --dev --sub you --channels 'chat:*' --publish 'chat:*'");
    expect(text).toContain(`Publish   npx switchboard publish --dev chat:lobby '{"text":"hello"}'`);
  });

  it('admin on: its URL; another port and secrets path: in the commands; no file: the --secret form', () => {
    const other = { url: 'http://127.0.0.1:9000', wsUrl: 'ws://127.0.0.1:9000/ws' };
    const text = devBanner({ gateway: other, apiEnabled: true, admin: true, secretsFile: '/tmp/my secrets.json' });
    expect(text).toContain('Admin     http://127.0.0.1:9000/admin/');
    expect(text).toContain("SWITCHBOARD_DEV_SECRETS='/tmp/my secrets.json' npx switchboard token --dev");
    expect(text).toContain('publish --dev --url http://127.0.0.1:9000 chat:lobby');
    const own = devBanner({ gateway, apiEnabled: false, admin: false });
    expect(own).toContain('--secret <the secret>');
    expect(own).not.toContain('Publish');
    expect(own).not.toContain('Secrets');
  });
});
