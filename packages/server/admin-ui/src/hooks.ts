import { useEffect, useState } from 'preact/hooks';

declare global {
  /** Poll loops waiting for their next turn (none while the page is hidden): tests and the console. */
  interface Window { adminPolling?: number }
}

/**
 * Calls `load` now and every `everyMs` while the component is shown and the page is visible
 * (and again whenever `deps` change); keeps the last good value and the last error. A hidden
 * page (another tab, a minimised window) polls nothing; it loads at once when shown again.
 */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, deps: unknown[] = []): { value: T | undefined; error: string | undefined; reload(): void } {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let alive = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const schedule = () => {
      if (!alive || timer !== undefined || document.visibilityState === 'hidden') return;
      window.adminPolling = (window.adminPolling ?? 0) + 1;
      timer = setTimeout(() => {
        timer = undefined;
        window.adminPolling = (window.adminPolling ?? 1) - 1;
        void run();
      }, everyMs);
    };
    const cancel = () => {
      if (timer === undefined) return;
      clearTimeout(timer);
      timer = undefined;
      window.adminPolling = (window.adminPolling ?? 1) - 1;
    };
    let inFlight = false;
    const run = async () => {
      if (inFlight) return; // one loop: a load already under way schedules the next
      inFlight = true;
      try {
        const v = await load();
        if (!alive) return;
        setValue(v);
        setError(undefined);
      } catch (err) {
        if (alive) setError((err as Error).message);
      } finally {
        inFlight = false;
      }
      schedule();
    };
    const onVisibility = () => {
      if (document.visibilityState === 'hidden') return cancel();
      if (timer === undefined) void run(); // shown again: fresh numbers now, then the usual pace
    };
    document.addEventListener('visibilitychange', onVisibility);
    void run();
    return () => {
      alive = false;
      cancel();
      document.removeEventListener('visibilitychange', onVisibility);
    };
  }, [...deps, tick]);
  return { value, error, reload: () => setTick((n) => n + 1) };
}
