import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError } from './api/errors.ts';

/**
 * The client SDK's browser bundles, served by the gateway (docs/client.md, "Add Switchboard to
 * your app"): `GET /switchboard.js` (a classic script defining `window.Switchboard`) and
 * `GET /switchboard.mjs` (an ES module exporting `Switchboard`), with their source maps.
 * They are read from the installed `@switchboard/client` package (its `dist/`, made by
 * `npm run build`), once, at the first request that finds them.
 */
const FILES = ['switchboard.js', 'switchboard.mjs', 'switchboard.js.map', 'switchboard.mjs.map'] as const;
type FileName = (typeof FILES)[number];

/** One bundle file in memory, with its gzip form and a strong ETag of its bytes. */
interface BundleFile {
  body: Buffer;
  gzip: Buffer;
  etag: string;
  type: string;
}

/** The bundle files and the client version they were built from. */
interface Bundle {
  version: string;
  files: Map<FileName, BundleFile>;
}

/** A year: the longest a `?v=<version>` URL is cached (its bytes never change for that version). */
const IMMUTABLE = 'public, max-age=31536000, immutable';
/** An unversioned URL: cached, but checked against its ETag on every use (a 304 costs a round trip, not the bytes). */
const REVALIDATE = 'public, max-age=0, must-revalidate';

/** `dist/` of the installed `@switchboard/client`, or undefined when it is not installed. */
function clientDist(): { dist: string; version: string } | undefined {
  try {
    const manifest = createRequire(import.meta.url).resolve('@switchboard/client/package.json');
    const version = String((JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown }).version ?? '0.0.0');
    return { dist: join(dirname(manifest), 'dist'), version };
  } catch {
    return undefined;
  }
}

/** Reads the bundle from `dir` (the client's `dist/` unless given); a message saying why not when it cannot. */
function loadBundle(dir: string | undefined): Bundle | string {
  const found = dir ? { dist: dir, version: readVersionBeside(dir) } : clientDist();
  if (!found) return 'the client SDK is not installed beside the gateway: npm install @switchboard/client';
  if (!existsSync(join(found.dist, 'switchboard.js')) || !existsSync(join(found.dist, 'switchboard.mjs'))) {
    return `the client SDK's browser bundle is not built (no switchboard.js in ${found.dist}): run \`npm run build\` in the repository`;
  }
  const files = new Map<FileName, BundleFile>();
  for (const name of FILES) {
    const path = join(found.dist, name);
    if (!existsSync(path)) continue;
    const body = readFileSync(path);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    const type = name.endsWith('.map') ? 'application/json; charset=utf-8' : 'text/javascript; charset=utf-8';
    files.set(name, { body, gzip: gzipSync(body), etag, type });
  }
  return { version: found.version, files };
}

/** The version in the package.json beside a `dist/` given directly (tests), else `0.0.0`. */
function readVersionBeside(dir: string): string {
  const manifest = join(dir, '..', 'package.json');
  try {
    return String((JSON.parse(readFileSync(manifest, 'utf8')) as { version?: unknown }).version ?? '0.0.0');
  } catch {
    return '0.0.0';
  }
}

/** Whether the request's `If-None-Match` names `etag` (a list, or `*`). */
const matches = (header: string | undefined, etag: string): boolean =>
  header !== undefined && (header.trim() === '*' || header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag));

/**
 * Registers `GET /switchboard.js`, `/switchboard.mjs` and their `.map`s on `http`. `dir` is a
 * directory holding the built files (tests); by default the installed client package's `dist/`.
 * Any origin may load them (`Access-Control-Allow-Origin: *`: a module script from another
 * origin needs it); `?v=<version>` of the served client makes the answer cacheable for a year.
 */
export function registerBrowserBundle(http: FastifyInstance, dir?: string): void {
  let bundle: Bundle | undefined;
  const serve = (name: FileName) => async (req: FastifyRequest, reply: FastifyReply) => {
    if (!bundle) {
      const loaded = loadBundle(dir);
      if (typeof loaded === 'string') throw new ApiError(404, 'not_found', loaded);
      bundle = loaded;
    }
    const file = bundle.files.get(name);
    if (!file) throw new ApiError(404, 'not_found', `no ${name} in the client SDK's build`);
    const v = (req.query as Record<string, unknown> | undefined)?.['v'];
    void reply
      .header('cache-control', v === bundle.version ? IMMUTABLE : REVALIDATE)
      .header('etag', file.etag)
      .header('x-switchboard-client-version', bundle.version)
      .header('access-control-allow-origin', '*')
      .header('vary', 'accept-encoding');
    if (matches(req.headers['if-none-match'], file.etag)) return reply.code(304).send();
    void reply.type(file.type);
    if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) return reply.header('content-encoding', 'gzip').send(file.gzip);
    return reply.send(file.body);
  };
  for (const name of FILES) http.get(`/${name}`, serve(name));
}
