import { createServer, Socket } from 'node:net';

/**
 * A loopback TCP proxy that can be cut and restored: the links between the nodes of the local cluster
 * (cluster.ts) and the proxies of the fault runs in front of dynalite and SES (test/faults/proxy.ts).
 * Cutting resets every open connection and every new one until `restore()`, as a lost network path does
 * to the processes on both ends, while the processes themselves keep running.
 */
export interface TcpProxy {
  /** The port it listens on (127.0.0.1). */
  port: number;
  readonly isCut: boolean;
  /** Connections refused while cut. */
  readonly refused: number;
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export const startTcpProxy = async (
  targetHost: string,
  targetPort: number,
  listenPort = 0,
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
    client.pipe(upstream);
    upstream.pipe(client);
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
