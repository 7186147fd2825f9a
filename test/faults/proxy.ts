import { createServer, type Socket } from 'node:net';

/**
 * A TCP proxy in front of a local server (dynalite, the SES server) that a fault run can cut and restore.
 * Stopping dynalite itself would lose its in-memory tables; cutting the proxy makes the endpoint fail for
 * the functions (every connection is reset at once) while the store behind it keeps its data.
 */
export interface FaultProxy {
  /** `http://127.0.0.1:<port>`: what the functions are pointed at. */
  endpoint: string;
  readonly isCut: boolean;
  /** Connections made while cut. */
  readonly refused: number;
  /** Resets every open connection and every new one until `restore()`. */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

export const startProxy = async (target: string): Promise<FaultProxy> => {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  let isCut = false;
  let refused = 0;
  const server = createServer((client) => {
    if (isCut) {
      refused += 1;
      client.resetAndDestroy();
      return;
    }
    const upstream = new (client.constructor as typeof Socket)();
    upstream.connect(Number(port), hostname);
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
    server.listen(0, '127.0.0.1', () => ok());
  });
  const address = server.address();
  const listening = typeof address === 'object' && address ? address.port : 0;
  return {
    endpoint: `http://127.0.0.1:${listening}`,
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
        server.close(() => ok());
      }),
  };
};
