import { startTcpProxy } from '../../infra/local/kafka/tcp-proxy.ts';

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
  const proxy = await startTcpProxy(hostname, Number(port));
  return {
    endpoint: `http://127.0.0.1:${proxy.port}`,
    get isCut() {
      return proxy.isCut;
    },
    get refused() {
      return proxy.refused;
    },
    cut: () => proxy.cut(),
    restore: () => proxy.restore(),
    close: () => proxy.close(),
  };
};
