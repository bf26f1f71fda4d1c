import type { SubscribeOptions, Subscription, Switchboard } from '@switchboard/client';

interface Held {
  sub: Subscription;
  users: number;
  release: ReturnType<typeof setTimeout> | undefined;
}

/** Per client: channel → its shared subscription and how many components hold it. */
const registry = new WeakMap<Switchboard, Map<string, Held>>();

/**
 * Takes a reference to `client.subscribe(channel, options)`, shared by every component that
 * wants the channel (the options of the holder that subscribed apply to all of them). The subscription is left only when the last holder lets go, and then after the
 * current task: React's strict mode unmounts and mounts effects again at once, and a channel
 * taken back in between is never unsubscribed and subscribed again.
 */
export function holdChannel(client: Switchboard, channel: string, options?: SubscribeOptions): { sub: Subscription; release(): void } {
  let channels = registry.get(client);
  if (!channels) registry.set(client, (channels = new Map()));
  let held = channels.get(channel);
  if (!held || held.sub.state === 'unsubscribed') {
    if (held) clearTimeout(held.release);
    held = { sub: client.subscribe(channel, options), users: 0, release: undefined };
    channels.set(channel, held);
  }
  const h = held;
  clearTimeout(h.release);
  h.release = undefined;
  h.users++;
  let released = false;
  return {
    sub: h.sub,
    release() {
      if (released) return;
      released = true;
      if (--h.users > 0) return;
      h.release = setTimeout(() => {
        if (h.users > 0 || channels.get(channel) !== h) return;
        channels.delete(channel);
        h.sub.unsubscribe();
      }, 0);
    },
  };
}

/** How many components hold `channel` on `client` (diagnostics and tests). */
export function holders(client: Switchboard, channel: string): number {
  return registry.get(client)?.get(channel)?.users ?? 0;
}
