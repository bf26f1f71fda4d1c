import { createContext, createElement, useContext, useEffect, useRef, useState, type ReactNode } from 'react';
import { Switchboard, type SwitchboardOptions } from '@switchboard/client';

/** Props of `SwitchboardProvider`: either `url` (+ `options`), and the provider owns the client, or a `client` the application owns. */
export interface SwitchboardProviderProps {
  /** The gateway's WebSocket URL (`wss://rt.example.com/ws`, or `/ws` relative to the page). A new URL makes a new client. */
  url?: string;
  /** SDK options (`token`, `tokenStorageKey`, `name`…), read when the client is made (changing them later has no effect). */
  options?: SwitchboardOptions;
  /** A client made and owned by the application: the provider neither connects nor closes it. */
  client?: Switchboard;
  children?: ReactNode;
}

/** undefined: no provider above; null: a provider whose client is not made yet. */
const SwitchboardContext = createContext<Switchboard | null | undefined>(undefined);

interface Owned {
  client: Switchboard;
  url: string;
  /** The close scheduled by an effect cleanup; a strict-mode remount cancels it. */
  closing: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Gives the components below it one Switchboard client. With `url`, the provider makes the
 * client in an effect (so server rendering never opens a socket), connects it, and closes it
 * when it unmounts. Strict mode's unmount-and-mount-again keeps the same client and socket:
 * the close is deferred past the current task and cancelled by the remount.
 */
export function SwitchboardProvider(props: SwitchboardProviderProps): ReactNode {
  const { url, client: given } = props;
  const [client, setClient] = useState<Switchboard | null>(given ?? null);
  const owned = useRef<Owned | null>(null);
  const options = useRef(props.options);
  options.current = props.options;

  useEffect(() => {
    if (given) {
      setClient(given);
      return undefined;
    }
    if (url === undefined) throw new TypeError('SwitchboardProvider: pass `url` (or a `client`)');
    let o = owned.current;
    if (o && o.url === url) {
      clearTimeout(o.closing);
      o.closing = undefined;
    } else {
      o?.client.close();
      o = owned.current = { client: new Switchboard(url, { ...options.current, autoConnect: false }), url, closing: undefined };
      o.client.connect();
    }
    setClient(o.client);
    const mine = o;
    return () => {
      mine.closing = setTimeout(() => {
        if (owned.current === mine) owned.current = null;
        mine.client.close();
      }, 0);
    };
  }, [given, url]);

  return createElement(SwitchboardContext.Provider, { value: client }, props.children);
}

/**
 * The provider's client, or null before it is made (the first render, and always during
 * server rendering). Throws outside a `SwitchboardProvider`.
 */
export function useSwitchboard(): Switchboard | null {
  const client = useContext(SwitchboardContext);
  if (client === undefined) throw new Error('Switchboard hooks must be used inside a <SwitchboardProvider>');
  return client;
}
