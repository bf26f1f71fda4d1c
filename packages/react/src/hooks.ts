import { useCallback, useEffect, useRef, useState, useSyncExternalStore } from 'react';
import type { ChannelPublication, ClientState, DeltaFormat, PresenceEntry, Publication, PublishResult, Subscription, SubscriptionState } from '@switchboard/client';
import { holdChannel } from './channels.ts';
import { useSwitchboard } from './provider.ts';

/** The connection's state (`connecting`, `connected`, `disconnected`, `closed`); `disconnected` before the client exists and on the server. */
export function useConnectionState(): ClientState {
  const client = useSwitchboard();
  const subscribe = useCallback((changed: () => void) => (client ? client.on('state', changed) : () => {}), [client]);
  return useSyncExternalStore(subscribe, () => client?.state ?? 'disconnected', () => 'disconnected');
}

/** Options of `useSubscription` (`T`: the channel's payload type). */
export interface UseSubscriptionOptions<T = unknown> {
  /** Keep the last this many publications (default 100). */
  limit?: number;
  /**
   * On mount, show the channel's last `rewind` publications (read from its history, so the
   * namespace needs `history`) before the live ones, oldest first, each once. Default 0: live
   * publications only, from the moment the subscription is confirmed.
   */
  rewind?: number;
  /** Called for every live publication (the latest function passed is used); not for those `rewind` loads. */
  onMessage?: (publication: ChannelPublication<T>) => void;
  /**
   * `'fossil'`: ask for delta compression (namespaces with `delta: 'fossil'`); messages carry
   * full data either way. Applies when this component is the one that subscribes the channel
   * (components sharing a channel share its subscription).
   */
  delta?: DeltaFormat;
}

/** What `useSubscription` returns. */
export interface SubscriptionView<T = unknown> {
  /** `idle` until the client exists (first render, server rendering) and when `channel` is empty. */
  state: SubscriptionState | 'idle';
  /**
   * The last `limit` publications since this component subscribed (plus the `rewind` ones
   * before them), oldest first, each once; recovered after reconnects by the SDK. Empty
   * until one arrives; a new `channel` starts empty again.
   */
  messages: ChannelPublication<T>[];
  /** Why the server refused the subscription (or the `rewind` read), if it did. */
  error: Error | undefined;
}

/** Where a publication sits in its stream (`epoch:offset`), or undefined on a channel without history. */
const keyOf = (p: Publication) => (p.offset !== undefined ? `${p.epoch ?? ''}:${p.offset}` : undefined);

/** `older` then `newer`, each publication once (by stream position), in offset order, the last `limit`. */
function merge<T>(older: ChannelPublication<T>[], newer: ChannelPublication<T>[], limit: number): ChannelPublication<T>[] {
  const seen = new Set<string>();
  const out: ChannelPublication<T>[] = [];
  for (const p of [...older, ...newer]) {
    const k = keyOf(p);
    if (k !== undefined) {
      if (seen.has(k)) continue;
      seen.add(k);
    }
    out.push(p);
  }
  // One stream (one epoch): offset order. A new epoch restarts offsets: arrival order then.
  if (out.every((p) => p.offset !== undefined && p.epoch === out[0]!.epoch)) out.sort((a, b) => a.offset! - b.offset!);
  return out.slice(-limit);
}

/**
 * Subscribes to `channel` while the component is mounted (null or '' subscribes to nothing)
 * and returns `{ state, messages, error }`. `T` types the publications' `data`
 * (`useSubscription<ChatMessage>('chat:lobby')`; not checked). Components that want the same
 * channel share one subscription; strict mode's double effects subscribe once.
 */
export function useSubscription<T = unknown>(channel: string | null | undefined, options: UseSubscriptionOptions<T> = {}): SubscriptionView<T> {
  const client = useSwitchboard();
  const limit = options.limit ?? 100;
  const rewind = Math.max(0, Math.floor(options.rewind ?? 0));
  const onMessage = useRef(options.onMessage);
  onMessage.current = options.onMessage;
  const [view, setView] = useState<SubscriptionView<T> & { channel: string | null | undefined }>({ channel, state: 'idle', messages: [], error: undefined });

  useEffect(() => {
    if (!client || !channel) return undefined;
    const { sub, release } = holdChannel(client, channel, options.delta ? { delta: options.delta } : undefined);
    const typed = sub as unknown as Subscription<T>;
    let live = true;
    setView((v) => (v.channel === channel ? { ...v, state: sub.state } : { channel, state: sub.state, messages: [], error: undefined }));
    const offs = [
      typed.on('state', ({ state }) => setView((v) => ({ ...v, state }))),
      typed.on('error', ({ error }) => setView((v) => ({ ...v, error }))),
      typed.on('message', (m) => {
        onMessage.current?.(m);
        setView((v) => ({ ...v, messages: merge(v.messages, [m], limit) }));
      }),
    ];
    // The last `rewind` publications, read once subscribed (so none falls between the read
    // and the live ones; those that are both are shown once).
    if (rewind > 0) {
      sub.ready()
        .then(() => client.history(channel, { limit: rewind, reverse: true }))
        .then((h) => {
          if (!live) return;
          const older = (h.publications as ChannelPublication<T>[]).slice().reverse();
          setView((v) => ({ ...v, messages: merge(older, v.messages, limit) }));
        }, (error: unknown) => {
          if (live) setView((v) => ({ ...v, error: error instanceof Error ? error : new Error(String(error)) }));
        });
    }
    return () => {
      live = false;
      for (const off of offs) off();
      release();
    };
  }, [client, channel, limit, rewind, options.delta]);

  if (view.channel !== channel) return { state: 'idle', messages: [], error: undefined };
  return { state: view.state, messages: view.messages, error: view.error };
}

/**
 * Who is subscribed to `channel` (the namespace needs `presence`; live updates need
 * `joinLeave`): one entry per user with their connection count and info, sorted by user, kept
 * live as users join, leave and change their info (`subscription.setPresence`, namespaces with
 * `presenceUpdates`). Subscribes to the channel while mounted (shared with `useSubscription`).
 * Empty until known.
 */
export function usePresence(channel: string | null | undefined): PresenceEntry[] {
  const client = useSwitchboard();
  const [view, setView] = useState<{ channel: string | null | undefined; entries: PresenceEntry[] }>({ channel, entries: [] });

  useEffect(() => {
    if (!client || !channel) return undefined;
    const { sub, release } = holdChannel(client, channel);
    // null while the snapshot is on its way: the events before it are already in it
    // (one socket delivers in order), the ones after it apply to it.
    let users: Map<string, PresenceEntry> | null = null;
    let cancelled = false;
    const show = () => setView({ channel, entries: [...users!.values()].sort((a, b) => (a.user < b.user ? -1 : a.user > b.user ? 1 : 0)) });
    const load = () => {
      users = null;
      client.presence(channel).then((p) => {
        if (cancelled) return;
        users = new Map(Object.values(p).map((e) => [e.user, e]));
        show();
      }, () => {}); // refused or closed: the entries stay as they were
    };
    const offs = [
      sub.on('subscribed', load),
      sub.on('join', ({ user, info }) => {
        if (!users) return;
        const cur = users.get(user);
        users.set(user, { user, connections: (cur?.connections ?? 0) + 1, ...(info !== undefined ? { info } : cur?.info !== undefined ? { info: cur.info } : {}) });
        show();
      }),
      sub.on('leave', ({ user }) => {
        const cur = users?.get(user);
        if (!users || !cur) return;
        if (cur.connections > 1) users.set(user, { ...cur, connections: cur.connections - 1 });
        else users.delete(user);
        show();
      }),
      // Live presence state: someone's `setPresence` (an away status, a cursor) replaces their info.
      sub.on('update', ({ user, info }) => {
        const cur = users?.get(user);
        if (!users || !cur) return;
        const { info: _old, ...rest } = cur;
        users.set(user, info === null ? rest : { ...rest, info });
        show();
      }),
    ];
    if (sub.state === 'subscribed') load();
    return () => {
      cancelled = true;
      for (const off of offs) off();
      release();
    };
  }, [client, channel]);

  return view.channel === channel ? view.entries : [];
}

/**
 * A stable function that publishes through the provider's client: resolves once the gateway
 * stored the publication (calls made while reconnecting are queued by the SDK). Rejects
 * before the client exists (server rendering, before the provider's effect ran).
 */
export function usePublish(): (channel: string, data: unknown, options?: { id?: string }) => Promise<PublishResult> {
  const client = useSwitchboard();
  return useCallback(
    (channel: string, data: unknown, options?: { id?: string }) =>
      client ? client.publish(channel, data, options) : Promise.reject(new Error('Switchboard: no client yet (server rendering, or before the provider mounted)')),
    [client],
  );
}
