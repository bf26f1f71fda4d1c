import type { Writable } from 'node:stream';

const EMPTY = Buffer.alloc(0);

/**
 * Resolves once everything written to `stream` so far has left it (handed to the kernel, for
 * a socket), or at once when nothing waits or the stream is gone. An empty write queues
 * behind what is there, and its callback runs when the writes before it completed: the
 * stream's own drain signal, whatever its high-water mark. Never rejects.
 */
export function streamDrained(stream: Writable): Promise<void> {
  if (stream.destroyed || !stream.writable || stream.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => {
    stream.write(EMPTY, () => resolve());
  });
}
