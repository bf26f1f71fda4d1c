/**
 * How each published package is built (`npm run build`, scripts/build.ts): what its
 * package.json points at, under its `dist/`.
 *
 * - protocol, api-client, server: `tsc` emits one JavaScript file and one declaration per
 *   source file (ES modules, relative imports rewritten from `.ts` to `.js`); the server also
 *   gets its admin UI (`admin-ui/dist/`).
 * - client: bundles for Node (ESM and CommonJS) and browsers (packages/client/scripts/build.ts).
 * - react: ESM and CommonJS by esbuild (react and the client left as imports), declarations by tsc.
 */
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildAdminUi } from '../../packages/server/admin-ui/build.ts';
import { buildClientPackage } from '../../packages/client/scripts/build.ts';

/** The repository root. */
export const ROOT = join(import.meta.dirname, '../..');

/** Published packages, in build order (a package after those it depends on). */
export const PACKAGES = ['protocol', 'api-client', 'client', 'react', 'server'] as const;
/** A published package's directory name under packages/. */
export type PackageName = (typeof PACKAGES)[number];

/** Runs `tsc -p packages/<name>/tsconfig.build.json`, writing into `outDir`. */
async function tsc(name: PackageName, outDir: string, stage: string): Promise<void> {
  // A config of its own beside the output: the same options, with the sibling packages'
  // declarations taken from the stage being built (their dist/ may exist nowhere else).
  const config = join(outDir, '..', `tsconfig.build-${process.pid}.json`);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(config, JSON.stringify({
    extends: join(ROOT, 'packages', name, 'tsconfig.build.json'),
    compilerOptions: {
      rootDir: join(ROOT, 'packages', name, 'src'), outDir, typeRoots: [join(ROOT, 'node_modules/@types')],
      paths: {
        '@switchboard/protocol': [join(stage, 'protocol/dist/index.d.ts')],
        '@switchboard/api-client': [join(stage, 'api-client/dist/index.d.ts')],
        '@switchboard/client': [join(stage, 'client/dist/index.d.ts')],
      },
    },
    include: [join(ROOT, 'packages', name, 'src/**/*.ts')],
  }));
  try {
    await new Promise<void>((resolve, reject) => {
      const p = spawn(join(ROOT, 'node_modules/.bin/tsc'), ['-p', config], { stdio: ['ignore', 'inherit', 'inherit'] });
      p.on('error', reject);
      p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`tsc for ${name} failed (exit ${code})`))));
    });
  } finally {
    rmSync(config, { force: true });
  }
}

/** Builds one package's `dist/` under `<stage>/<name>/`. */
export async function buildPackage(name: PackageName, stage: string): Promise<void> {
  const out = join(stage, name, 'dist');
  switch (name) {
    case 'protocol':
    case 'api-client':
      rmSync(out, { recursive: true, force: true });
      return tsc(name, out, stage);
    case 'server':
      rmSync(out, { recursive: true, force: true });
      await Promise.all([tsc(name, out, stage), buildAdminUi(join(stage, name, 'admin-ui/dist'))]);
      return;
    case 'client':
      return buildClientPackage(out);
    case 'react': {
      rmSync(out, { recursive: true, force: true });
      const common = {
        entryPoints: [join(ROOT, 'packages/react/src/index.ts')], bundle: true, target: 'es2022', platform: 'neutral' as const,
        external: ['react', 'react/*', '@switchboard/client'], sourcemap: true, logLevel: 'warning' as const,
      };
      await Promise.all([
        build({ ...common, format: 'esm', outfile: join(out, 'index.js') }),
        build({ ...common, format: 'cjs', outfile: join(out, 'index.cjs') }),
        tsc(name, join(out, 'types'), stage),
      ]);
      writeFileSync(join(out, 'index.d.ts'), "export * from './types/index.js';\n");
      writeFileSync(join(out, 'index.d.cts'), "export * from './types/index.js';\n");
      return;
    }
    default: {
      const never: never = name;
      throw new Error(`unknown package ${String(never)}`);
    }
  }
}
