/** A listener of one event. */
export type Listener<T> = (event: T) => void;

/** What `once` registers: the caller's listener, wrapped to remove itself; `off(listener)` finds it. */
type OnceWrapper = Listener<never> & { readonly original: Listener<never> };

/**
 * A small typed event emitter (no dependency on Node's `events` or the DOM's `EventTarget`,
 * so the same code runs in browsers and Node).
 *
 * Listeners run synchronously in registration order. A listener that throws does not stop
 * the others: its error is rethrown asynchronously (reported like an uncaught error in a DOM
 * event listener).
 */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(listener as Listener<never>);
    return () => this.off(name, listener);
  }

  /** Adds a listener that runs once; `off(name, listener)` removes it before it ran, too. */
  once<K extends keyof Events>(name: K, listener: Listener<Events[K]>): () => void {
    const wrapper = Object.assign((event: Events[K]) => {
      this.listeners.get(name)?.delete(wrapper as OnceWrapper);
      listener(event);
    }, { original: listener as Listener<never> });
    let set = this.listeners.get(name);
    if (!set) this.listeners.set(name, (set = new Set()));
    set.add(wrapper as OnceWrapper);
    return () => void this.listeners.get(name)?.delete(wrapper as OnceWrapper);
  }

  /** Removes a listener, whether added with `on` or `once` (one registration per call). */
  off<K extends keyof Events>(name: K, listener: Listener<Events[K]>): void {
    const set = this.listeners.get(name);
    if (!set || set.delete(listener as Listener<never>)) return;
    for (const l of set) {
      if ((l as Partial<OnceWrapper>).original === listener) {
        set.delete(l);
        return;
      }
    }
  }

  /** Resolves with the next event of this name. */
  next<K extends keyof Events>(name: K): Promise<Events[K]> {
    return new Promise((resolve) => this.once(name, resolve));
  }

  protected emit<K extends keyof Events>(name: K, event: Events[K]): void {
    const set = this.listeners.get(name);
    if (!set || set.size === 0) return;
    for (const listener of [...set]) {
      try {
        (listener as Listener<Events[K]>)(event);
      } catch (err) {
        queueMicrotask(() => {
          throw err;
        });
      }
    }
  }
}
