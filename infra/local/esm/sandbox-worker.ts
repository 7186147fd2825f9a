import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import type { Context } from 'aws-lambda';
import { lambdaContext } from './context.ts';
import type { SandboxInit, SandboxReply, SandboxRequest } from './sandbox.ts';

/**
 * One function sandbox (a worker thread, started by sandbox.ts): loads the handler module once (the cold
 * start), then runs one invocation at a time. The parent terminates the whole thread when an invocation
 * outlives the function timeout, so nothing the handler started can go on after it.
 */
const port = parentPort;
if (!port) throw new Error('sandbox-worker.ts runs only as a worker thread (see sandbox.ts)');
const init = workerData as SandboxInit;

const describe = (error: unknown): { errorType: string; errorMessage: string } => ({
  errorType: error instanceof Error ? error.name : typeof error,
  errorMessage: error instanceof Error ? error.message : String(error),
});

const reply = (message: SandboxReply) => port.postMessage(message);

try {
  const module = (await import(pathToFileURL(init.entry).href)) as { handler?: unknown };
  if (typeof module.handler !== 'function')
    throw new Error(`${init.entry} does not export a handler function`);
  const handler = module.handler as (event: unknown, context: Context) => unknown;
  port.on('message', async (request: SandboxRequest) => {
    const context = lambdaContext(init.fn, Date.now, request);
    try {
      const response = await handler(request.event, context);
      // Lambda serialises the response as JSON; so does the sandbox (undefined becomes null).
      reply({ type: 'result', id: request.id, response: JSON.parse(JSON.stringify(response ?? null)) });
    } catch (error) {
      reply({ type: 'error', id: request.id, ...describe(error) });
    }
  });
  reply({ type: 'ready' });
} catch (error) {
  reply({ type: 'init-error', ...describe(error) });
}
