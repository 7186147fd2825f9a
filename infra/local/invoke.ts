import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseEnv } from 'node:util';
import { consumerByName } from '../consumers.ts';
import { lambdaContext } from './esm/context.ts';
import { loadHandler } from './esm/emulator.ts';
import { LOCAL_DIR, REPO_ROOT } from './kafka/jvm.ts';
import { assertLocalStack } from './preflight.ts';

/**
 * `npm run invoke -- <function> <event.json>`, in the manner of `sam local invoke`: runs one function's
 * handler in-process on an event file (an MSK event for the consumers) with a Lambda-like context, and
 * prints its response as one JSON line on stdout (the function's own logs come before it). A failing
 * invocation prints `{ errorType, errorMessage }` and exits 1.
 *
 * The endpoints (KAFKA_BROKERS, DYNAMODB_ENDPOINT, ...) come from the environment; while `npm start` runs,
 * the variables it wrote to .local/start.env fill in whatever the environment does not set. With nothing
 * listening there, it fails at once with a ConfigError naming what is missing and how to start it.
 */
export const START_ENV_FILE = join(LOCAL_DIR, 'start.env');

const USAGE = 'usage: npm run invoke -- <function> <event.json>   (functions: folders under functions/)';

const loadStartEnv = (): void => {
  if (!existsSync(START_ENV_FILE)) return;
  for (const [name, value] of Object.entries(parseEnv(readFileSync(START_ENV_FILE, 'utf8')))) {
    if (process.env[name] === undefined) process.env[name] = value;
  }
};

export const invoke = async (name: string, eventFile: string): Promise<unknown> => {
  const definition = consumerByName(name);
  const entry = definition?.entry ?? `functions/${name}/handler.ts`;
  if (!/^[\w-]+$/.test(name) || !existsSync(join(REPO_ROOT, entry))) {
    throw new Error(`Unknown function "${name}"`);
  }
  const event: unknown = JSON.parse(readFileSync(resolve(eventFile), 'utf8'));
  // As `sam local invoke` needs Docker: without the local stack, say so now rather than after the clients'
  // retries (Kafka's alone take ~27 s) end in batch item failures.
  await assertLocalStack(name, definition, process.env);
  const handler = await loadHandler(entry);
  const context = lambdaContext({
    name,
    timeoutSeconds: definition?.timeoutSeconds ?? 30,
    memoryMb: definition?.memoryMb ?? 512,
  });
  return handler(event as never, context);
};

const main = async (): Promise<number> => {
  const [name, eventFile] = process.argv.slice(2).filter((a) => a !== '--');
  if (!name || !eventFile) {
    console.error(USAGE);
    return 2;
  }
  loadStartEnv();
  try {
    const response = await invoke(name, eventFile);
    console.log(JSON.stringify(response ?? null));
    return 0;
  } catch (error) {
    const e = error instanceof Error ? error : new Error(String(error));
    console.log(JSON.stringify({ errorType: e.name, errorMessage: e.message }));
    return 1;
  }
};

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // Clients the handler opened (producer, SDK sockets) would keep the process alive: exit once printed.
  main().then(
    (code) => process.exit(code),
    () => process.exit(1),
  );
}
