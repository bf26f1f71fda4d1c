import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'test/**/*.test.ts', 'examples/**/*.test.ts', 'bench/**/*.test.ts'],
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
