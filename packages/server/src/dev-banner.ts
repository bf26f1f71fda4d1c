import { relative } from 'node:path';

/** What the development banner shows. */
export interface DevBannerOptions {
  gateway: { url: string; wsUrl: string };
  /** The chat example's URL (under `npm start`). */
  chatUrl?: string;
  /** Whether the admin UI is on (`admin.password` set; default: `SWITCHBOARD_ADMIN_PASSWORD` is set); it is served at `/admin/`. */
  admin?: boolean;
  /** The development secrets file in use (absent when the secret came from the environment). */
  secretsFile?: string;
  /** Whether the server API is on (an API key is configured). */
  apiEnabled: boolean;
}

const shell = (path: string) => (/^[\w./-]+$/.test(path) ? path : `'${path.replace(/'/g, `'\\''`)}'`);

/**
 * The banner of `serve --dev` and `npm start`: the true URLs, where the secrets are kept, and
 * the commands that mint a token and publish from a shell. It never prints a secret.
 */
export function devBanner(o: DevBannerOptions): string {
  const rows: Array<[string, string]> = [];
  if (o.chatUrl) rows.push(['Chat', `${o.chatUrl}   (open it in two browsers, log in as two users)`]);
  rows.push(['Gateway', `${o.gateway.url}   WebSocket ${o.gateway.wsUrl}`]);
  const admin = o.admin ?? Boolean(process.env.SWITCHBOARD_ADMIN_PASSWORD);
  rows.push(['Admin', admin ? `${o.gateway.url}/admin/` : 'off (set SWITCHBOARD_ADMIN_PASSWORD to turn on /admin/)']);
  const dev = o.secretsFile ? ' --dev' : '';
  const env = o.secretsFile && relative(process.cwd(), o.secretsFile) !== 'data/dev-secrets.json' ? `SWITCHBOARD_DEV_SECRETS=${shell(o.secretsFile)} ` : '';
  if (o.secretsFile) rows.push(['Secrets', `${o.secretsFile}   (kept across restarts; delete it to log everyone out)`]);
  rows.push(['Token', `${env}npx switchboard token${dev} --sub you --channels 'chat:*' --publish 'chat:*'${dev ? '' : ' --secret <the secret>'}`]);
  if (o.apiEnabled) {
    const port = new URL(o.gateway.url).port;
    const url = port === '8080' ? '' : ` --url ${o.gateway.url}`;
    rows.push(['Publish', `${env}npx switchboard publish${dev}${url} chat:lobby '{"text":"hello"}'${dev ? '' : ' --api-key <key>'}`]);
  }
  const lines = rows.map(([k, v]) => `  ${k.padEnd(9)} ${v}`);
  return `\n  ⚠  DEVELOPMENT MODE — not for production: anonymous users allowed, every namespace open.\n${lines.join('\n')}\n`;
}
