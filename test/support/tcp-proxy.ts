import { createServer, connect, type Server, type Socket } from 'node:net';

/** A TCP proxy between a client and a server, which a test controls to break the network. */
export interface TcpProxy {
  /** The proxy's port on 127.0.0.1. */
  port: number;
  /** `ws://127.0.0.1:<port>/ws`: the gateway's WebSocket endpoint through the proxy. */
  wsUrl: string;
  /** Connections currently open through the proxy. */
  readonly connections: number;
  /** Destroys every open connection on both sides at once (a cut cable, an RST). */
  cut(): void;
  /**
   * Stops forwarding bytes on every open connection in both directions while leaving the
   * sockets open: a half-open connection (NAT timeout, sleeping laptop). New connections
   * are forwarded normally. `'down'` stalls only server→client bytes: requests arrive and
   * are processed, their answers are lost.
   */
  stall(direction?: 'both' | 'down'): void;
  /** While true, new connections are accepted and destroyed at once (server unreachable). */
  refuse(on: boolean): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  server: Socket;
  /** Client→server bytes are dropped. */
  stalled: boolean;
  /** Server→client bytes are dropped. */
  downStalled: boolean;
}

/** Starts a proxy on a free port forwarding to `127.0.0.1:<targetPort>`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let refusing = false;
  const srv: Server = createServer((client) => {
    if (refusing) {
      client.destroy();
      return;
    }
    const server = connect(targetPort, '127.0.0.1');
    const pair: Pair = { client, server, stalled: false, downStalled: false };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      server.destroy();
    };
    client.on('data', (d) => { if (!pair.stalled) server.write(d); });
    server.on('data', (d) => { if (!pair.downStalled) client.write(d); });
    client.on('close', () => { if (!pair.stalled && !pair.downStalled) end(); });
    server.on('close', () => { if (!pair.stalled && !pair.downStalled) end(); });
    client.on('error', () => {});
    server.on('error', () => {});
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  return {
    port,
    wsUrl: `ws://127.0.0.1:${port}/ws`,
    get connections() { return pairs.size; },
    cut() {
      for (const p of [...pairs]) {
        pairs.delete(p);
        p.client.destroy();
        p.server.destroy();
      }
    },
    stall(direction = 'both') {
      for (const p of pairs) {
        p.downStalled = true;
        if (direction === 'both') p.stalled = true;
      }
    },
    refuse(on) {
      refusing = on;
    },
    async close() {
      for (const p of pairs) { p.client.destroy(); p.server.destroy(); }
      pairs.clear();
      await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}
