import { once } from 'node:events';
import { createServer, type Server, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { startTcpProxy, type TcpProxy } from '../../../infra/local/kafka/tcp-proxy.ts';

/**
 * The bench's MSK-like round trips come from this proxy: it must hold each direction's bytes at least
 * `delayMs` (a lower bound, which load cannot make fail), and deliver every byte in order.
 */
let echo: Server | undefined;
let proxy: TcpProxy | undefined;

afterEach(async () => {
  await proxy?.close();
  await new Promise<void>((ok) => (echo ? echo.close(() => ok()) : ok()));
  echo = undefined;
  proxy = undefined;
});

const startEcho = async (): Promise<number> => {
  echo = createServer((socket) => socket.pipe(socket));
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const address = echo.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
};

const connect = async (port: number): Promise<Socket> => {
  const socket = new Socket();
  socket.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return socket;
};

/** Reads from `socket` until `length` bytes arrived. */
const readBytes = (socket: Socket, length: number): Promise<Buffer> =>
  new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let got = 0;
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (got >= length) {
        socket.off('data', onData);
        resolve(Buffer.concat(chunks));
      }
    };
    socket.on('data', onData);
  });

describe('delaying TCP proxy (bench round trips)', () => {
  it('adds at least the delay in each direction to a round trip', async () => {
    // Arrange
    proxy = await startTcpProxy('127.0.0.1', await startEcho(), 0, { delayMs: 40 });
    const socket = await connect(proxy.port);
    // Act
    const started = performance.now();
    const reply = readBytes(socket, 4);
    socket.write('ping');
    const bytes = await reply;
    const elapsed = performance.now() - started;
    socket.destroy();
    // Assess
    expect(bytes.toString()).toBe('ping');
    expect(elapsed).toBeGreaterThanOrEqual(80 - 1);
  });

  it('delivers many writes whole and in order', async () => {
    // Arrange
    proxy = await startTcpProxy('127.0.0.1', await startEcho(), 0, { delayMs: 2 });
    const socket = await connect(proxy.port);
    const parts = Array.from({ length: 500 }, (_, i) => Buffer.from(`${i};`.padEnd(64, '.')));
    const sent = Buffer.concat(parts);
    // Act
    const reply = readBytes(socket, sent.length);
    for (const part of parts) socket.write(part);
    const received = await reply;
    socket.destroy();
    // Assess
    expect(received.equals(sent)).toBe(true);
  });
});
