import { afterEach, describe, expect, it } from 'vitest';
import {
  createSandboxPool,
  FunctionError,
  FunctionTimeoutError,
  type SandboxPool,
} from '../../../infra/local/esm/sandbox.ts';

const entry = 'test/fixtures/esm/modes-handler.ts';
const fn = { name: 'sandbox-test', timeoutSeconds: 2, memoryMb: 128 };

describe('Sandbox pool (one worker thread per concurrent invocation)', () => {
  let pool: SandboxPool | undefined;
  const events: string[] = [];
  const start = (timeoutSeconds = fn.timeoutSeconds) => {
    events.length = 0;
    pool = createSandboxPool(
      { entry, fn: { ...fn, timeoutSeconds } },
      {
        coldStart: () => void events.push('cold'),
        stopped: (reason) => void events.push(`stopped:${reason}`),
      },
    );
    return pool;
  };
  afterEach(async () => {
    await pool?.close();
  });

  it('reuses a warm sandbox and gives the handler a counting-down context', async () => {
    const p = start();
    const first = (await p.invoke({ mode: 'ok' })) as { calls: number; remainingMs: number; fn: string };
    const second = (await p.invoke({ mode: 'ok' })) as { calls: number };
    expect(first.calls).toBe(1);
    expect(second.calls).toBe(2);
    expect(first.remainingMs).toBeGreaterThan(0);
    expect(first.remainingMs).toBeLessThanOrEqual(2_000);
    expect(first.fn).toBe('esante-local-sandbox-test');
    expect(events).toEqual(['cold']);
  });

  it('reports a thrown error with its class and keeps the sandbox', async () => {
    const p = start();
    const error = await p.invoke({ mode: 'throw' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FunctionError);
    expect(error).toMatchObject({ errorType: 'TypeError', message: 'handler refused the event' });
    expect(((await p.invoke({ mode: 'ok' })) as { calls: number }).calls).toBe(2);
    expect(events).toEqual(['cold']);
  });

  it('stops the sandbox of an invocation that outlives the timeout; the next one starts cold', async () => {
    const p = start(0.3);
    const error = await p.invoke({ mode: 'hang' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FunctionTimeoutError);
    expect((error as Error).message).toBe('Task timed out after 0.30 seconds');
    // The rejection comes after the thread exited.
    expect(events).toEqual(['cold', 'stopped:timeout']);
    expect(((await p.invoke({ mode: 'ok' })) as { calls: number }).calls).toBe(1);
    expect(events).toEqual(['cold', 'stopped:timeout', 'cold']);
  });

  it('fails the invocation when the handler crashes its sandbox, and replaces the sandbox', async () => {
    const p = start();
    const error = await p.invoke({ mode: 'crash' }).catch((e: unknown) => e);
    expect(error).toMatchObject({ errorType: 'Runtime.ExitError' });
    expect(((await p.invoke({ mode: 'ok' })) as { calls: number }).calls).toBe(1);
  });

  it('refuses to warm up a handler module that cannot be loaded', async () => {
    pool = createSandboxPool({ entry: 'test/fixtures/esm/no-such-handler.ts', fn });
    await expect(pool.warm()).rejects.toThrow(/Init failed/);
  });
});
