import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * The kernel's ephemeral range: the source ports of outgoing connections. A port the OS picks for
 * `listen(0)` lies in it, so between that probe and the server's own bind any connection made on the
 * machine can take it (a three-node cluster's JVM failed "Address already in use" so in a loaded test run).
 */
const ephemeralRange = (): [number, number] => {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/);
    return [Number(low), Number(high)];
  } catch {
    return [49152, 65535]; // IANA's dynamic range, macOS's and Windows's default
  }
};

/** Ports below the ephemeral range that a listener here may use, and those handed out by this process. */
const [EPHEMERAL_LOW] = ephemeralRange();
const RANGE = { low: 20_000, high: Math.min(EPHEMERAL_LOW, 65_536) - 1 };
const given = new Set<number>();

const bindable = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

const osPort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not get a free port'))));
    });
  });

/**
 * A TCP port free on 127.0.0.1 right now, so parallel runs and tests never collide on 9092: a random one
 * below the ephemeral range (no outgoing connection takes it before the server binds), never the same twice
 * in one process; the OS's pick only if that range is too small to hold one.
 */
export async function freePort(): Promise<number> {
  if (RANGE.high - RANGE.low >= 1_000) {
    for (let attempt = 0; attempt < 50; attempt++) {
      const port = RANGE.low + Math.floor(Math.random() * (RANGE.high - RANGE.low + 1));
      if (given.has(port) || !(await bindable(port))) continue;
      given.add(port);
      return port;
    }
  }
  return osPort();
}
