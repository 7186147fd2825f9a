import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fetchKafka, KAFKA_VERSION, startKafka } from './broker.ts';
import { type RunningCluster, startCluster } from './cluster.ts';
import { LOCAL_DIR, sleep } from './jvm.ts';
import { kafkajsCompat } from './kafkajs-compat.ts';

/**
 * `npm run kafka -- fetch|start|stop|compat [--port N]`: the local Kafka without Docker.
 * `start` stays in the foreground until Ctrl-C; `stop` ends a `start` running elsewhere (by its pid file).
 * `start --brokers 3`: a three-node cluster with MSK's broker properties (cluster.ts) on free ports, thrown
 * away on exit; it reads commands on stdin to fault one node: `kill N`, `restart N`, `pause N`, `resume N`,
 * `isolate N`, `reconnect N`, `status`.
 */
const USAGE =
  'usage: npm run kafka -- fetch | start [--port 9092] | start --brokers 3 | stop [--port 9092] | compat';

function brokersArg(args: string[]): number | undefined {
  const i = args.indexOf('--brokers');
  if (i < 0) return undefined;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`bad --brokers\n${USAGE}`);
  return value;
}

const NODE_COMMANDS = ['kill', 'restart', 'pause', 'resume', 'isolate', 'reconnect'] as const;

/** One stdin command against the cluster; returns what to print. */
async function clusterCommand(cluster: RunningCluster, line: string): Promise<string> {
  const [verb, arg] = line.trim().split(/\s+/);
  if (!verb) return '';
  if (verb === 'status')
    return cluster.nodes
      .map(
        (n) =>
          `node ${n.id} ${n.address} pid ${n.pid} ${n.running ? (n.paused ? 'paused' : 'running') : 'down'}${n.isolated ? ' isolated' : ''}`,
      )
      .join('\n');
  if (!(NODE_COMMANDS as readonly string[]).includes(verb))
    return `unknown command "${verb}": ${[...NODE_COMMANDS, 'status'].join(', ')}`;
  const node = cluster.node(Number(arg));
  switch (verb as (typeof NODE_COMMANDS)[number]) {
    case 'kill':
      await node.kill();
      break;
    case 'restart':
      await node.restart();
      break;
    case 'pause':
      node.pause();
      break;
    case 'resume':
      node.resume();
      break;
    case 'isolate':
      node.isolate();
      break;
    case 'reconnect':
      node.reconnect();
      break;
  }
  return `node ${node.id}: ${verb} done`;
}

async function startClusterCli(size: number): Promise<void> {
  console.log(
    `Starting a ${size}-node Kafka ${KAFKA_VERSION} cluster (KRaft, combined nodes) on free ports...`,
  );
  const cluster = await startCluster({ size });
  console.log(`Kafka cluster ready: KAFKA_BROKERS=${cluster.brokers.join(',')} KAFKA_REPLICATION_FACTOR=3`);
  for (const n of cluster.nodes) console.log(`  node ${n.id}: ${n.address} pid ${n.pid}`);
  console.log(`  data and logs: ${cluster.dataDir} (deleted on exit)`);
  console.log(`Commands: ${[...NODE_COMMANDS].map((c) => `${c} N`).join(', ')}, status. Ctrl-C to stop.`);
  let stopping = false;
  const shutdown = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping the cluster...');
    await cluster.stop();
    rmSync(cluster.dataDir, { recursive: true, force: true });
    console.log('Kafka cluster stopped.');
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown());
  process.on('SIGTERM', () => void shutdown());
  let queue = Promise.resolve();
  createInterface({ input: process.stdin }).on('line', (line) => {
    queue = queue.then(async () => {
      try {
        const out = await clusterCommand(cluster, line);
        if (out) console.log(out);
      } catch (error) {
        console.error(error instanceof Error ? error.message : String(error));
      }
    });
  });
  setInterval(() => {}, 60_000);
}

function portArg(args: string[]): number {
  const i = args.indexOf('--port');
  const value = i >= 0 ? Number(args[i + 1]) : 9092;
  if (!Number.isInteger(value) || value <= 0) throw new Error(`bad --port\n${USAGE}`);
  return value;
}

/** The pid file lives next to the data, so `stop` finds the broker started for the same port. */
const pidFile = (port: number): string => join(LOCAL_DIR, 'kafka-data', String(port), 'broker.pid');

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Guards against a recycled pid: only a JVM running kafka.Kafka is signalled. */
function isKafka(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('kafka.Kafka');
  } catch {
    return true; // no /proc (macOS): trust the pid file
  }
}

async function main(): Promise<void> {
  const [command, ...args] = process.argv.slice(2);
  switch (command) {
    case 'fetch': {
      const started = Date.now();
      const libs = await fetchKafka();
      console.log(`Kafka ${KAFKA_VERSION} jars in ${libs} (${Date.now() - started} ms)`);
      return;
    }
    case 'start': {
      const size = brokersArg(args);
      if (size !== undefined && size > 1) return startClusterCli(size);
      const port = portArg(args);
      console.log(`Starting Kafka ${KAFKA_VERSION} (KRaft) on 127.0.0.1:${port}...`);
      const kafka = await startKafka({ port });
      writeFileSync(pidFile(port), JSON.stringify({ cli: process.pid, broker: kafka.pid }));
      console.log(`Kafka ready: KAFKA_BROKERS=${kafka.brokers.join(',')} (pid ${kafka.pid})`);
      console.log(`  data: ${kafka.dataDir}\n  logs: ${join(kafka.logDir, 'server.log')}`);
      console.log('Ctrl-C to stop.');
      let stopping = false;
      const shutdown = async (): Promise<void> => {
        if (stopping) return;
        stopping = true;
        console.log('\nStopping Kafka...');
        await kafka.stop();
        rmSync(pidFile(port), { force: true });
        console.log('Kafka stopped.');
        process.exit(0);
      };
      process.on('SIGINT', () => void shutdown());
      process.on('SIGTERM', () => void shutdown());
      // Keep the event loop alive; the JVM's own exit ends us too.
      setInterval(() => {
        if (!stopping && !alive(kafka.pid)) {
          console.error(`Kafka exited unexpectedly; see ${join(kafka.logDir, 'server.log')}`);
          process.exit(1);
        }
      }, 2_000);
      return;
    }
    case 'stop': {
      const file = pidFile(portArg(args));
      if (!existsSync(file)) {
        console.log('No local Kafka running (no pid file).');
        return;
      }
      const { cli, broker } = JSON.parse(readFileSync(file, 'utf8')) as { cli: number; broker: number };
      // The foreground `start` stops the broker cleanly on SIGTERM; if it's gone, stop the broker ourselves.
      if (alive(cli)) {
        process.kill(cli, 'SIGTERM');
        for (let i = 0; i < 150 && alive(cli); i++) await sleep(200);
      }
      if (alive(broker) && isKafka(broker)) {
        process.kill(broker, 'SIGTERM');
        for (let i = 0; i < 100 && alive(broker); i++) await sleep(200);
        if (alive(broker)) process.kill(broker, 'SIGKILL');
      }
      rmSync(file, { force: true });
      console.log('Kafka stopped.');
      return;
    }
    case 'compat': {
      const external = process.env.KAFKA_BROKERS?.split(',').filter(Boolean);
      const { freePort } = await import('./free-port.ts');
      const kafka = external ? undefined : await startKafka({ port: await freePort() });
      try {
        const steps = await kafkajsCompat(external ?? kafka?.brokers ?? []);
        for (const s of steps) {
          console.log(
            `${s.ok ? 'ok  ' : 'FAIL'} ${s.name} (${s.ms} ms) ${s.ok ? (s.detail ?? '') : s.error}`,
          );
        }
        process.exitCode = steps.every((s) => s.ok) ? 0 : 1;
      } finally {
        if (kafka) {
          await kafka.stop();
          rmSync(kafka.dataDir, { recursive: true, force: true });
        }
      }
      return;
    }
    default:
      console.error(USAGE);
      process.exitCode = 2;
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
