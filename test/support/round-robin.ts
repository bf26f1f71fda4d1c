import { connect, createServer, type Server, type Socket } from 'node:net';

/** A TCP load balancer on 127.0.0.1: round robin over backends, no stickiness. */
export interface RoundRobin {
  port: number;
  /** `http://127.0.0.1:<port>` and `ws://127.0.0.1:<port>/ws` through the balancer. */
  url: string;
  wsUrl: string;
  /** How many connections went to each backend port. */
  readonly picks: ReadonlyMap<number, number>;
  close(): Promise<void>;
}

/**
 * Spreads each new TCP connection over `backends` (ports on 127.0.0.1) in turn, as a load
 * balancer without sticky sessions does; a backend that refuses the connection is skipped for
 * the next one (a stopped gateway), and the client's connection is closed only when every
 * backend refused. Bytes are piped as they come.
 */
export async function startRoundRobin(backends: number[]): Promise<RoundRobin> {
  let next = 0;
  const picks = new Map<number, number>();
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    open.add(client);
    client.on('close', () => open.delete(client));
    client.on('error', () => {});
    client.pause();
    const attempt = (left: number) => {
      if (left === 0 || client.destroyed) return void client.destroy();
      const port = backends[next++ % backends.length]!;
      const upstream = connect(port, '127.0.0.1');
      upstream.once('error', () => attempt(left - 1));
      upstream.once('connect', () => {
        picks.set(port, (picks.get(port) ?? 0) + 1);
        upstream.removeAllListeners('error');
        upstream.on('error', () => client.destroy());
        open.add(upstream);
        upstream.on('close', () => {
          open.delete(upstream);
          client.destroy();
        });
        client.on('close', () => upstream.destroy());
        client.pipe(upstream);
        upstream.pipe(client);
        client.resume();
      });
    };
    attempt(backends.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}/ws`, picks,
    close: () => {
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
