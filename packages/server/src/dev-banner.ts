import { relative } from 'node:path';

/** What the development banner shows. */
export interface DevBannerOptions {
  /** `bound`: the address the gateway listens on (`127.0.0.1`, `0.0.0.0`, `::`…), shown as it is. */
  gateway: { url: string; wsUrl: string; bound?: string };
  /** The chat example's URL (under `npm start`). */
  chatUrl?: string;
  /** Whether the admin UI is on (`admin.password` set; default: `SWITCHBOARD_ADMIN_PASSWORD` is set); it is served at `/admin/`. */
  admin?: boolean;
  /** The development secrets file in use (absent when the secret came from the environment). */
  secretsFile?: string;
  /** Whether the server API is on (an API key is configured). */
  apiEnabled: boolean;
}

/** What the bound address means for who can connect. */
function listening(bound: string | undefined): string {
  if (bound === undefined) return 'see the Gateway line';
  const shown = bound.includes(':') && !bound.startsWith('[') ? `[${bound}]` : bound;
  if (bound === '0.0.0.0' || bound === '::' || bound === '[::]') return `${shown}: EVERY network interface — anyone who can reach this machine can connect (--host 127.0.0.1 for this machine only)`;
  if (/^127\./.test(bound) || bound === '::1' || bound === 'localhost') return `${shown} only: this machine (--host 0.0.0.0 or SWITCHBOARD_HOST to open it to your network)`;
  return `${shown} only`;
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
  rows.push(['Listening', listening(o.gateway.bound)]);
  rows.push(['Script', `<script src="${o.gateway.url}/switchboard.js"></script>   (the SDK for any page: window.Switchboard)`]);
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
  return `\n  ⚠  DEVELOPMENT MODE — not for production: anonymous users allowed, every namespace open\n     (with history and presence), token grants not enforced: what production would refuse is logged.\n${lines.join('\n')}\n`;
}
