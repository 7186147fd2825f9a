import { createServer, Socket } from 'node:net';

/**
 * A loopback TCP proxy that can be cut and restored: the links between the nodes of the local cluster
 * (cluster.ts) and the proxies of the fault runs in front of dynalite and SES (test/faults/proxy.ts).
 * Cutting resets every open connection and every new one until `restore()`, as a lost network path does
 * to the processes on both ends, while the processes themselves keep running.
 * With `delayMs`, it holds every chunk that long in each direction, in order and without limiting
 * throughput: the bench's MSK-like round trip (an acks=all produce crossing availability zones), which a
 * loopback broker alone cannot show.
 */
export interface TcpProxy {
  /** The port it listens on (127.0.0.1). */
  port: number;
  readonly isCut: boolean;
  /** Connections refused while cut. */
  readonly refused: number;
  /** What it adds in each direction, in milliseconds (0: bytes are piped straight through). */
  readonly delayMs: number;
  cut(): void;
  restore(): void;
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

export const startTcpProxy = async (
  targetHost: string,
  targetPort: number,
  listenPort = 0,
  { delayMs = 0 }: { delayMs?: number } = {},
): Promise<TcpProxy> => {
  const open = new Set<Socket>();
  let isCut = false;
  let refused = 0;
  const server = createServer((client) => {
    if (isCut) {
      refused += 1;
      client.resetAndDestroy();
      return;
    }
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
    if (delayMs > 0) {
      delayedPipe(client, upstream, delayMs);
      delayedPipe(upstream, client, delayMs);
    } else {
      client.pipe(upstream);
      upstream.pipe(client);
    }
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(listenPort, '127.0.0.1', () => ok());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    port,
    get isCut() {
      return isCut;
    },
    get refused() {
      return refused;
    },
    delayMs,
    cut() {
      isCut = true;
      for (const socket of open) socket.resetAndDestroy();
      open.clear();
    },
    restore() {
      isCut = false;
    },
    close: () =>
      new Promise<void>((ok) => {
        for (const socket of open) socket.destroy();
        open.clear();
        server.close(() => ok());
      }),
  };
};
