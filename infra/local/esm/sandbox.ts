import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import { REPO_ROOT } from '../kafka/jvm.ts';

/** What a sandbox is started with: the handler module and the function's limits. */
export interface SandboxInit {
  /** Absolute path of the handler module. */
  entry: string;
  fn: { name: string; timeoutSeconds: number; memoryMb: number };
}

export interface SandboxRequest {
  id: number;
  event: unknown;
  /** Epoch milliseconds at which the parent stops the sandbox (getRemainingTimeInMillis counts to it). */
  deadline: number;
  awsRequestId: string;
}

export type SandboxReply =
  | { type: 'ready' }
  | { type: 'init-error'; errorType: string; errorMessage: string }
  | { type: 'result'; id: number; response: unknown }
  | { type: 'error'; id: number; errorType: string; errorMessage: string };

/** The invocation outlived the function timeout; its sandbox was stopped before this was thrown. */
export class FunctionTimeoutError extends Error {
  constructor(seconds: number) {
    super(`Task timed out after ${seconds.toFixed(2)} seconds`);
    this.name = 'FunctionTimeoutError';
  }
}

/** The handler threw (or returned a rejected promise): its error class and message, as Lambda reports them. */
export class FunctionError extends Error {
  constructor(
    readonly errorType: string,
    message: string,
  ) {
    super(message);
    this.name = 'FunctionError';
  }
}

/** What a pool reports about its sandboxes (tests, `npm start` diagnostics). */
export interface SandboxEvents {
  /** A new sandbox finished loading the handler (a cold start), after `initMs`. */
  coldStart?(initMs: number): void;
  /** A sandbox was stopped because an invocation timed out; its thread has exited. */
  stopped?(reason: 'timeout' | 'crash'): void;
}

export interface SandboxPool {
  /** Runs one invocation in an idle sandbox (or a new one); rejects with FunctionTimeoutError or FunctionError. */
  invoke(event: unknown): Promise<unknown>;
  /** Starts one sandbox ahead of the first invocation; rejects if the handler module cannot be loaded. */
  warm(): Promise<void>;
  /** Stops every sandbox (a running invocation rejects). */
  close(): Promise<void>;
}

/** tsx's ESM API (the `import` entry of its `./esm/api` export), which registers its loader in a thread. */
const tsxApi = (): string => {
  const manifest = createRequire(import.meta.url).resolve('tsx/package.json');
  const { exports } = JSON.parse(readFileSync(manifest, 'utf8')) as {
    exports: Record<string, { import: { default: string } }>;
  };
  const entry = exports['./esm/api']?.import.default;
  if (!entry) throw new Error('tsx has no ./esm/api export: the sandbox cannot load TypeScript');
  return pathToFileURL(resolve(dirname(manifest), entry)).href;
};

// The worker loads TypeScript through tsx, as `node --import tsx` does for the main thread.
const TSX_API = tsxApi();
const WORKER = new URL('./sandbox-worker.ts', import.meta.url).href;
const BOOTSTRAP = `import(${JSON.stringify(TSX_API)}).then((api) => { api.register(); return import(${JSON.stringify(WORKER)}); });`;

interface Sandbox {
  worker: Worker;
  current?: { id: number; resolve(value: unknown): void; reject(error: Error): void };
  exited: Promise<void>;
  /** Crashed, timed out or exited: never handed another invocation. */
  dead: boolean;
}

/**
 * Lambda runs each concurrent invocation in its own sandbox and, when an invocation times out, stops that
 * sandbox: whatever the handler still had going never runs, and the next invocation gets a fresh one (a
 * new cold start). Here a sandbox is a worker thread that loads the function's handler module; the pool
 * reuses idle ones, starts one when all are busy, and terminates one whose invocation outlives the
 * function timeout (the invocation's rejection comes only after the thread has exited). The worker shares
 * the process environment (endpoints, RECORD_RETRY, ...), as the function's configuration would.
 * ("If the Lambda function crashes or times out during the Invoke phase, Lambda resets the execution
 * environment": https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html, "Failures
 * during the invoke phase"). A handler that throws keeps its sandbox (the runtime catches the error).
 */
export const createSandboxPool = (init: SandboxInit, events: SandboxEvents = {}): SandboxPool => {
  const entry = resolve(REPO_ROOT, init.entry);
  const timeoutMs = init.fn.timeoutSeconds * 1000;
  const idle: Sandbox[] = [];
  const all = new Set<Sandbox>();
  let closed = false;
  let ids = 0;

  const start = (): Promise<Sandbox> =>
    new Promise((ready, failed) => {
      const started = Date.now();
      const worker = new Worker(BOOTSTRAP, {
        eval: true,
        env: SHARE_ENV,
        workerData: { entry, fn: init.fn } satisfies SandboxInit,
      });
      let settled = false;
      const sandbox: Sandbox = {
        worker,
        exited: new Promise((done) => worker.once('exit', () => done())),
        dead: false,
      };
      all.add(sandbox);
      worker.on('message', (message: SandboxReply) => {
        if (message.type === 'ready') {
          settled = true;
          events.coldStart?.(Date.now() - started);
          ready(sandbox);
        } else if (message.type === 'init-error') {
          settled = true;
          void worker.terminate();
          failed(new FunctionError(message.errorType, `Init failed: ${message.errorMessage}`));
        } else if (sandbox.current?.id === message.id) {
          const { resolve: ok, reject } = sandbox.current;
          sandbox.current = undefined;
          if (message.type === 'result') ok(message.response);
          else reject(new FunctionError(message.errorType, message.errorMessage));
        }
      });
      // An uncaught error in the handler's background work ends the thread (Lambda: Runtime.ExitError).
      worker.on('error', (error) => {
        sandbox.dead = true;
        if (!settled) {
          settled = true;
          failed(error);
        }
        sandbox.current?.reject(new FunctionError('Runtime.ExitError', error.message));
        sandbox.current = undefined;
        events.stopped?.('crash');
      });
      worker.once('exit', () => {
        sandbox.dead = true;
        all.delete(sandbox);
        const at = idle.indexOf(sandbox);
        if (at >= 0) idle.splice(at, 1);
        if (!settled) {
          settled = true;
          failed(new FunctionError('Runtime.ExitError', 'The sandbox exited during init'));
        }
        sandbox.current?.reject(new FunctionError('Runtime.ExitError', 'The sandbox exited'));
        sandbox.current = undefined;
      });
    });

  return {
    async invoke(event) {
      if (closed) throw new Error('The sandbox pool is closed');
      const sandbox = idle.pop() ?? (await start());
      const id = ++ids;
      let timer: NodeJS.Timeout | undefined;
      try {
        return await new Promise<unknown>((ok, reject) => {
          sandbox.current = { id, resolve: ok, reject };
          const deadline = Date.now() + timeoutMs;
          timer = setTimeout(() => {
            if (sandbox.current?.id !== id) return;
            sandbox.current = undefined;
            sandbox.dead = true;
            // Stop the thread first: the timeout is reported only once nothing of this invocation can run.
            void sandbox.worker.terminate().then(() => {
              events.stopped?.('timeout');
              reject(new FunctionTimeoutError(init.fn.timeoutSeconds));
            });
          }, timeoutMs);
          sandbox.worker.postMessage({
            id,
            event,
            deadline,
            awsRequestId: randomUUID(),
          } satisfies SandboxRequest);
        });
      } finally {
        clearTimeout(timer);
        if (!sandbox.dead && !closed && sandbox.current === undefined) idle.push(sandbox);
      }
    },
    async warm() {
      const sandbox = await start();
      if (!closed && !sandbox.dead) idle.push(sandbox);
    },
    async close() {
      closed = true;
      idle.length = 0;
      const sandboxes = [...all];
      await Promise.all(sandboxes.map((s) => s.worker.terminate()));
      await Promise.all(sandboxes.map((s) => s.exited));
    },
  };
};
