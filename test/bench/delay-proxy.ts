import { createServer, Socket } from 'node:net';

/**
 * A loopback TCP proxy that holds every chunk `delayMs` in each direction, in order and without limiting
 * throughput: the bench's MSK-like round trip (an acks=all produce crossing availability zones), which a
 * loopback broker alone cannot show. Nothing here cuts links; the fault runs' proxy does that.
 */
export interface DelayProxy {
  /** The port it listens on (127.0.0.1). */
  port: number;
  delayMs: number;
  close(): Promise<void>;
}

/** Forwards `from` to `to`, each chunk `delayMs` after it arrived, in arrival order. */
const delayedPipe = (from: Socket, to: Socket, delayMs: number): void => {
  const queue: { due: number; chunk: Buffer }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const drain = () => {
    timer = undefined;
    const now = performance.now();
    while (queue.length > 0 && (queue[0]?.due ?? 0) <= now) {
      const next = queue.shift();
      if (next && !to.destroyed) to.write(next.chunk);
    }
    const head = queue[0];
    if (head) timer = setTimeout(drain, Math.max(0, head.due - performance.now()));
  };
  from.on('data', (chunk: Buffer) => {
    queue.push({ due: performance.now() + delayMs, chunk });
    timer ??= setTimeout(drain, delayMs);
  });
  from.on('close', () => {
    if (timer) clearTimeout(timer);
  });
};

export const startDelayProxy = async (
  targetHost: string,
  targetPort: number,
  delayMs: number,
): Promise<DelayProxy> => {
  const open = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = new Socket();
    upstream.connect(targetPort, targetHost);
    open.add(client);
    open.add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    delayedPipe(client, upstream, delayMs);
    delayedPipe(upstream, client, delayMs);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => ok());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    delayMs,
    close: () =>
      new Promise<void>((ok) => {
        for (const socket of open) socket.destroy();
        open.clear();
        server.close(() => ok());
      }),
  };
};
