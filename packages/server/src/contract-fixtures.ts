import { afterEach } from 'vitest';

/**
 * Fixture handling shared by the store contract suites (`*.contract.ts`).
 *
 * `runWith(create, release)`: a function that runs a test body on a fresh fixture and then
 * always releases it, whether the body passed or threw.
 */
export function runWith<F>(create: () => Promise<F> | F, release: (f: F) => Promise<void> | void): (fn: (f: F) => Promise<void>) => Promise<void> {
  return async (fn) => {
    const f = await create();
    try {
      await fn(f);
    } finally {
      await release(f);
    }
  };
}

/**
 * `make()` for tests that build one or more fixtures (a restart builds a second on the same
 * data): each made during a test is disposed after it. Call inside a `describe`.
 */
export function disposedAfterEach<F extends { dispose?: () => Promise<void> | void }>(create: () => Promise<F> | F): () => Promise<F> {
  const made: F[] = [];
  afterEach(async () => {
    for (const f of made.splice(0)) await f.dispose?.();
  });
  return async () => {
    const f = await create();
    made.push(f);
    return f;
  };
}
