import { useEffect, useState } from 'preact/hooks';

/**
 * Calls `load` now and every `everyMs` while the component is shown (and again whenever
 * `deps` change); keeps the last good value and the last error.
 */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: unknown[] = []): { value: T | undefined; error: string | undefined; reload(): void } {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async () => {
      try {
        const v = await load();
        if (!alive) return;
        setValue(v);
        setError(undefined);
      } catch (err) {
        if (alive) setError((err as Error).message);
      }
      if (alive) timer = setTimeout(run, everyMs);
    };
    void run();
    return () => {
      alive = false;
      clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { value, error, reload: () => setTick((n) => n + 1) };
}
