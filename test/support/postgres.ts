import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, sleep, waitFor } from './ports.ts';

export interface PostgresProcess {
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string;
  port: number;
  /** The directory of Debian's PostgreSQL binaries in use (`initdb`, `pg_ctl`, `pgbench`, …). */
  bin: string;
  /** SIGKILL the postmaster (a crash); its backends exit when they notice. */
  kill(): Promise<void>;
  /** Start it again on the same port and data (after `kill` or `stop`); crash recovery runs first. */
  restart(): Promise<void>;
  /** Fast shutdown (SIGINT) and the data directory removed. */
  stop(): Promise<void>;
  /** A URL for a fresh database of its own on this server (created now). */
  database(name?: string): Promise<string>;
  /** Runs a Debian PostgreSQL tool (`pgbench`, `psql`) as the server's user; resolves with its output. */
  tool(name: string, args: string[], input?: string): Promise<{ code: number | null; out: string }>;
}

/** The newest `/usr/lib/postgresql/<version>/bin` with `initdb`, or undefined. */
function postgresBin(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a));
  return versions[0] && join(root, versions[0], 'bin');
}

/** The uid/gid to run PostgreSQL as: the `postgres` user when we are root (initdb and postgres refuse root). */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) throw new Error('running as root, but there is no `postgres` user to run PostgreSQL as: install Debian\'s postgresql package (npm test does)');
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/**
 * A freshly initialised data directory for `bin`'s version (made once, then reused): made
 * under a temporary name and renamed into place, so test processes racing to make it never
 * see half of one.
 */
function initdbTemplate(bin: string, user: { uid: number; gid: number } | undefined): string {
  const dir = join(tmpdir(), `sb-pg-template-${bin.replace(/[^A-Za-z0-9]+/g, '_')}-${user?.uid ?? process.getuid?.() ?? 0}`);
  if (existsSync(join(dir, 'PG_VERSION'))) return dir;
  const work = mkdtempSync(join(tmpdir(), 'sb-pg-init-'));
  try {
    if (user) chownSync(work, user.uid, user.gid);
    const init = spawnSync(join(bin, 'initdb'), ['-D', join(work, 'data'), '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync', '--locale=C'], { cwd: work, encoding: 'utf8', ...user });
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);
    try {
      renameSync(join(work, 'data'), dir);
    } catch (err) {
      if (!existsSync(join(dir, 'PG_VERSION'))) throw err; // another process made it meanwhile: use theirs
    }
    return dir;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * Starts a real PostgreSQL server (Debian's `postgresql` package) on a free loopback port,
 * in a new data directory under the system temp dir, trusted logins on 127.0.0.1 only, no
 * Unix socket. It never touches the machine's own server (5432). `npm test` installs the
 * package when missing; a test never skips because it is absent. Share one per test file.
 */
export async function startPostgres(): Promise<PostgresProcess> {
  const bin = postgresBin();
  if (!bin) throw new Error('PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run the README test command (npm test), which installs Debian\'s postgresql package');
  const user = runAs();
  const base = mkdtempSync(join(tmpdir(), 'sb-pg-'));
  const data = join(base, 'data');
  if (user) chownSync(base, user.uid, user.gid);
  try {
    // initdb takes seconds: it runs once per machine into a template that each server copies.
    const template = initdbTemplate(bin, user);
    const cp = spawnSync('cp', ['-a', template, data], { encoding: 'utf8' });
    if (cp.status !== 0) throw new Error(`copying the initdb template failed: ${cp.stderr}`);
  } catch (err) {
    rmSync(base, { recursive: true, force: true });
    throw err;
  }
  const port = await freePort();
  let proc: ChildProcess | undefined;
  let log = '';
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const ping = async () => {
    const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    c.on('error', () => {});
    try {
      await c.connect();
      await c.query('SELECT 1');
      return true;
    } finally {
      await c.end().catch(() => {});
    }
  };
  const launch = async () => {
    // A killed postmaster's backends may still hold its shared memory for a moment: retry.
    for (let attempt = 0; ; attempt++) {
      log = '';
      const p = spawn(join(bin, 'postgres'), [
        '-D', data, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=',
        // Tests, not production: no fsync (a killed server loses nothing the OS has), small footprint.
        '-c', 'fsync=off', '-c', 'full_page_writes=off', '-c', 'shared_buffers=32MB', '-c', 'max_connections=200',
      ], { cwd: base, stdio: ['ignore', 'ignore', 'pipe'], ...user });
      proc = p;
      p.stderr!.on('data', (d) => (log = (log + d).slice(-4000)));
      try {
        await waitFor(async () => {
          if (p.exitCode !== null) throw new Error(`postgres exited ${p.exitCode}: ${log}`);
          return ping();
        }, 30_000, `postgres on ${port}`);
        return;
      } catch (err) {
        if (p.exitCode === null) {
          p.kill('SIGKILL');
          await new Promise((r) => p.once('exit', r));
        }
        if (attempt >= 20) throw err;
        await sleep(250);
      }
    }
  };
  const stopWith = async (signal: NodeJS.Signals) => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill(signal);
    await exited;
  };
  await launch();
  let n = 0;
  return {
    url, port, bin,
    kill: () => stopWith('SIGKILL'),
    restart: launch,
    async stop() {
      await stopWith('SIGINT');
      rmSync(base, { recursive: true, force: true });
    },
    async database(name = `db_${process.pid}_${++n}`) {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name}"`);
      } finally {
        await c.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    tool(name, args, input) {
      return new Promise((resolve, reject) => {
        const p = spawn(join(bin, name), args, { cwd: base, stdio: ['pipe', 'pipe', 'pipe'], ...user });
        let out = '';
        p.stdout!.on('data', (d) => (out += d));
        p.stderr!.on('data', (d) => (out += d));
        p.on('error', reject);
        p.on('exit', (code) => resolve({ code, out }));
        p.stdin!.end(input ?? '');
      });
    },
  };
}
