import { defineConfig } from 'vitest/config';

/**
 * In-repo runs resolve the workspace packages (`@switchboard/*`) to their TypeScript sources
 * through this export condition; installed packages resolve to their built JavaScript
 * (DEVELOPERS.md, "Packages: sources in the repository, JavaScript when installed").
 */
const SOURCE = 'switchboard-source';
// Child processes the tests start (gateways, fixtures, examples) resolve the same way. `.npmrc`
// sets it for everything npm starts; this covers a direct `node node_modules/vitest/vitest.mjs`.
if (!(process.env.NODE_OPTIONS ?? '').includes(`--conditions=${SOURCE}`)) {
  process.env.NODE_OPTIONS = `${process.env.NODE_OPTIONS ?? ''} --conditions=${SOURCE}`.trim();
}

export default defineConfig({
  resolve: { conditions: [SOURCE, 'module', 'browser', 'development|production'] },
  ssr: { resolve: { conditions: [SOURCE, 'module', 'node', 'development|production'], externalConditions: [SOURCE] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts', 'bench/**/*.test.ts'],
    // The container image built and run with podman: `npm run test:image` (minutes of build;
    // test/packages.test.ts runs the image's steps in every run).
    exclude: ['**/node_modules/**', '**/dist/**', ...(process.env.SWITCHBOARD_TEST_IMAGE === '1' ? [] : ['test/image/**'])],
    testTimeout: 30_000,
    // expect.poll waits for what a real browser or socket does; 1 s (the default) is too short
    // on a loaded two-core machine.
    expect: { poll: { timeout: 10_000 } },
    hookTimeout: 30_000,
    pool: 'forks',
    // Two cores: integration suites start real servers and processes; keep parallelism modest.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
