import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fetchKafka, KAFKA_VERSION, startKafka } from './broker.ts';
import { LOCAL_DIR, sleep } from './jvm.ts';
import { kafkajsCompat } from './kafkajs-compat.ts';

/**
 * `npm run kafka -- fetch|start|stop|compat [--port N]`: the local Kafka without Docker.
 * `start` stays in the foreground until Ctrl-C; `stop` ends a `start` running elsewhere (by its pid file).
 */
const USAGE = 'usage: npm run kafka -- fetch | start [--port 9092] | stop [--port 9092] | compat';

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
