/**
 * Packing the built packages and installing the tarballs where no repository is: what a user
 * does with `npm install ./switchboard-server-x.y.z.tgz`.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PACKAGES, type PackageName } from '../build/packages.ts';

const run = promisify(execFile);

/**
 * The environment for npm and for the installed programs: without the repository's source
 * condition (an installed package must run its own JavaScript) and without npm's settings of
 * the process that started us.
 */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('npm_') && k !== 'NODE_OPTIONS' && !k.startsWith('SWITCHBOARD_')));
  return { ...env, ...extra };
}

/**
 * `npm pack` of every package directory into `dest`; the tarballs' paths by package. Without
 * the `prepack` check (the caller has just built them, perhaps into a staged copy where the
 * repository's scripts/ is not beside them).
 */
export async function packAll(dirs: Record<PackageName, string>, dest: string): Promise<Record<PackageName, string>> {
  mkdirSync(dest, { recursive: true });
  const out = {} as Record<PackageName, string>;
  for (const name of PACKAGES) {
    const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dest], { cwd: dirs[name], env: cleanEnv(), encoding: 'utf8' });
    const [info] = JSON.parse(stdout) as { filename: string }[];
    out[name] = join(dest, info!.filename);
  }
  return out;
}

/**
 * A new project in an empty folder outside the repository, with the tarballs (and `extra`
 * registry packages) installed (`omitDev`: runtime dependencies only, as the image does);
 * returns its directory.
 */
export async function installInEmptyFolder(tarballs: string[], extra: string[] = [], o: { omitDev?: boolean } = {}): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-install-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...(o.omitDev ? ['--omit=dev'] : []), ...tarballs, ...extra], {
    cwd: dir, env: cleanEnv(), encoding: 'utf8', timeout: 600_000, maxBuffer: 16 << 20,
  });
  return dir;
}

/**
 * The `node` binary of a major version, from the npm registry's `node` package (as the
 * repository gets Node 24), installed once under ~/.cache/switchboard/.
 */
export async function nodeBinary(major: number): Promise<string> {
  const dir = join(homedir(), '.cache/switchboard', `node-${major}`);
  const bin = join(dir, 'node_modules/.bin/node');
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `node-${major}`, private: true }));
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', `node@${major}`], { cwd: dir, env: cleanEnv(), encoding: 'utf8', timeout: 600_000 });
  }
  const { stdout } = await run(bin, ['--version'], { encoding: 'utf8' });
  if (!stdout.startsWith(`v${major}.`)) throw new Error(`${bin} is ${stdout.trim()}, expected Node ${major}`);
  return bin;
}
