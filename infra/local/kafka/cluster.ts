import type { ChildProcess } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { MSK_SERVER_PROPERTIES } from '../../broker-config.ts';
import {
  brokerLog4j,
  fetchKafka,
  formatStorage,
  newClusterId,
  spawnKafkaJvm,
  TOOLS_LOG4J,
  waitReady,
} from './broker.ts';
import { freePort } from './free-port.ts';
import { exited, LOCAL_DIR, terminate } from './jvm.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';

/**
 * A local KRaft cluster of `size` nodes (default 3), each a combined controller+broker JVM, with the broker
 * properties the CDK app gives MSK (infra/broker-config.ts): RF 3, min.insync.replicas 2, unclean leader
 * election off. Combined nodes keep it at three JVMs on a small machine; the controller quorum is then the
 * same three nodes, so a node's fault also hits a controller, as a broker fault on MSK does not (MSK's
 * controllers are separate) — the harder case for the clients.
 *
 * Every link between two nodes goes through a loopback TCP proxy of this process, one per direction and
 * kind (replication, controller), so a node can be cut off from the others (`isolate`) while clients still
 * reach it on its client port. How: each node has one replication listener per peer (REPL1..REPLn) and uses
 * REPL<own id> as its inter-broker listener, so node j reaches node i at node i's REPLj address, which node i
 * advertises as the proxy j→i; node j's controller.quorum.voters lists node i at the proxy j→i of i's
 * controller port. Clients use the CLIENT listener and no proxy.
 */
export interface ClusterNode {
  id: number;
  /** `127.0.0.1:<client port>` of this node. */
  address: string;
  /** Pid of the node's current JVM (changes on restart); -1 while down. */
  readonly pid: number;
  readonly running: boolean;
  readonly paused: boolean;
  readonly isolated: boolean;
  /** SIGKILL at once; `restart()` brings it back on the same ports and data. */
  kill(): Promise<void>;
  /** SIGSTOP: the JVM freezes (a long GC pause, a stalled VM); its sockets stay open. */
  pause(): void;
  /** SIGCONT after `pause()`. */
  resume(): void;
  /** Stops the node if it runs (SIGTERM), starts it again, waits until the cluster lists it again. */
  restart(): Promise<void>;
  /** SIGTERM, waits for a clean exit. */
  stop(): Promise<void>;
  /** Cuts every link between this node and the others (both directions, replication and controller). */
  isolate(): void;
  /** Restores the links `isolate()` cut. */
  reconnect(): void;
}

export interface RunningCluster {
  /** The client addresses of every node, for `KAFKA_BROKERS`. */
  brokers: string[];
  nodes: ClusterNode[];
  node(id: number): ClusterNode;
  dataDir: string;
  /** Stops every node (resuming paused ones first) and closes the proxies. */
  stop(): Promise<void>;
}

export interface StartClusterOptions {
  /** Number of nodes (default 3; at least 3 for RF 3). */
  size?: number;
  /** Data and logs of every node (`<dataDir>/node-<id>`); wiped on start. Default `.local/kafka-data/cluster-<port>`. */
  dataDir?: string;
}

/**
 * Settings of the local cluster that MSK does not set or cannot (timeouts sized for a small loaded machine),
 * on top of MSK_SERVER_PROPERTIES. The broker session timeout is Kafka's default (9 s); replica.lag.time.max.ms
 * is 10 s instead of MSK's 30 s so a fault run's pause outlasts it quickly; internal topics get RF 3 and
 * min ISR 2 like the catalog topics.
 */
export const LOCAL_CLUSTER_TIMEOUTS = {
  'broker.session.timeout.ms': 9_000,
  'broker.heartbeat.interval.ms': 2_000,
  'replica.lag.time.max.ms': 10_000,
} as const;

const READY_MS = 180_000;

interface Ports {
  client: number;
  controller: number;
  /** repl[j] = the port of this node's REPL<j> listener (the one node j connects to). */
  repl: Map<number, number>;
}

export async function startCluster(options: StartClusterOptions = {}): Promise<RunningCluster> {
  await fetchKafka();
  const size = options.size ?? 3;
  if (!Number.isInteger(size) || size < 3)
    throw new RangeError(`a cluster needs at least 3 nodes, got ${size}`);
  const ids = Array.from({ length: size }, (_, i) => i + 1);
  const ports = new Map<number, Ports>();
  for (const id of ids) {
    const repl = new Map<number, number>();
    for (const peer of ids) repl.set(peer, await freePort());
    ports.set(id, { client: await freePort(), controller: await freePort(), repl });
  }
  const at = (id: number) => ports.get(id) as Ports;
  const dataDir = resolve(options.dataDir ?? join(LOCAL_DIR, 'kafka-data', `cluster-${at(1).client}`));
  await rm(dataDir, { recursive: true, force: true });

  // One proxy per direction and kind: links.get(`${from}>${to}`) = [replication, controller].
  const links = new Map<string, { repl: TcpProxy; controller: TcpProxy }>();
  for (const from of ids)
    for (const to of ids)
      if (from !== to)
        links.set(`${from}>${to}`, {
          repl: await startTcpProxy('127.0.0.1', at(to).repl.get(from) as number),
          controller: await startTcpProxy('127.0.0.1', at(to).controller),
        });
  const link = (from: number, to: number) =>
    links.get(`${from}>${to}`) as { repl: TcpProxy; controller: TcpProxy };
  const closeLinks = async () => {
    for (const l of links.values()) await Promise.all([l.repl.close(), l.controller.close()]);
  };

  const clusterId = newClusterId();
  const nodes: ClusterNode[] = [];
  try {
    const launches: Promise<void>[] = [];
    for (const id of ids) {
      const nodeDir = join(dataDir, `node-${id}`);
      const logDir = join(nodeDir, 'logs');
      const propsFile = join(nodeDir, 'server.properties');
      const log4jFile = join(nodeDir, 'log4j2.properties');
      await mkdir(logDir, { recursive: true });
      await writeFile(propsFile, nodeProperties(id, ids, at, link, nodeDir));
      await writeFile(log4jFile, brokerLog4j(logDir));
      await writeFile(join(logDir, 'tools-log4j2.properties'), TOOLS_LOG4J);
      await formatStorage(nodeDir, propsFile, logDir, clusterId);
      const node = makeNode(
        id,
        `127.0.0.1:${at(id).client}`,
        { propsFile, log4jFile, logDir, nodeDir },
        ids,
        link,
      );
      nodes.push(node.handle);
      launches.push(node.launch());
    }
    // The quorum needs a majority up: every node starts at once, each waits until the cluster lists it.
    await Promise.all(launches);
  } catch (error) {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    await closeLinks();
    throw error;
  }
  return {
    brokers: nodes.map((n) => n.address),
    nodes,
    node(id) {
      const node = nodes.find((n) => n.id === id);
      if (!node) throw new RangeError(`no node ${id} (nodes ${ids.join(', ')})`);
      return node;
    },
    dataDir,
    async stop() {
      await Promise.allSettled(nodes.map((n) => n.stop()));
      await closeLinks();
    },
  };
}

function nodeProperties(
  id: number,
  ids: number[],
  at: (id: number) => Ports,
  link: (from: number, to: number) => { repl: TcpProxy; controller: TcpProxy },
  nodeDir: string,
): string {
  const me = at(id);
  const voters = ids
    .map((peer) => `${peer}@127.0.0.1:${peer === id ? me.controller : link(id, peer).controller.port}`)
    .join(',');
  const repl = ids.map((reader) => `REPL${reader}://127.0.0.1:${me.repl.get(reader)}`);
  // Node `reader` reaches this node's REPL<reader> listener through the proxy reader→id (itself: directly).
  const advertisedRepl = ids.map(
    (reader) =>
      `REPL${reader}://127.0.0.1:${reader === id ? me.repl.get(reader) : link(reader, id).repl.port}`,
  );
  const settings: Record<string, string | number> = {
    'process.roles': 'broker,controller',
    'node.id': id,
    'controller.quorum.voters': voters,
    listeners: [`CLIENT://127.0.0.1:${me.client}`, ...repl, `CONTROLLER://127.0.0.1:${me.controller}`].join(
      ',',
    ),
    'advertised.listeners': [`CLIENT://127.0.0.1:${me.client}`, ...advertisedRepl].join(','),
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': `REPL${id}`,
    'listener.security.protocol.map': ['CLIENT', 'CONTROLLER', ...ids.map((r) => `REPL${r}`)]
      .map((name) => `${name}:PLAINTEXT`)
      .join(','),
    'log.dirs': join(nodeDir, 'kraft-logs'),
    ...MSK_SERVER_PROPERTIES,
    // Kafka's internal topics as durable as the catalog's.
    'offsets.topic.replication.factor': MSK_SERVER_PROPERTIES['default.replication.factor'],
    'offsets.topic.num.partitions': 10,
    'transaction.state.log.replication.factor': MSK_SERVER_PROPERTIES['default.replication.factor'],
    'transaction.state.log.min.isr': MSK_SERVER_PROPERTIES['min.insync.replicas'],
    'transaction.state.log.num.partitions': 5,
    'share.coordinator.state.topic.replication.factor': MSK_SERVER_PROPERTIES['default.replication.factor'],
    'share.coordinator.state.topic.min.isr': MSK_SERVER_PROPERTIES['min.insync.replicas'],
    'group.initial.rebalance.delay.ms': 0,
    ...LOCAL_CLUSTER_TIMEOUTS,
    'num.network.threads': 2,
    'num.io.threads': 4,
    'log.retention.hours': 24,
  };
  return [
    `# Written by infra/local/kafka/cluster.ts: node ${id} of a ${ids.length}-node KRaft cluster (combined controller+broker).`,
    ...Object.entries(settings).map(([k, v]) => `${k}=${v}`),
    '',
  ].join('\n');
}

function makeNode(
  id: number,
  address: string,
  files: { propsFile: string; log4jFile: string; logDir: string; nodeDir: string },
  ids: number[],
  link: (from: number, to: number) => { repl: TcpProxy; controller: TcpProxy },
): { handle: ClusterNode; launch: () => Promise<void> } {
  let child: ChildProcess | undefined;
  let paused = false;
  let isolated = false;
  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const launch = async (): Promise<void> => {
    paused = false;
    child = spawnKafkaJvm(files.propsFile, files.log4jFile, files.logDir, files.nodeDir);
    try {
      // Ready once the cluster, asked on this node's own client port, lists this node as a live broker.
      await waitReady([address], child, files.logDir, (live) => live.includes(id), READY_MS);
    } catch (error) {
      await terminate(child, 5_000);
      throw error;
    }
  };
  const peerLinks = () =>
    ids
      .filter((peer) => peer !== id)
      .flatMap((peer) => [link(id, peer), link(peer, id)])
      .flatMap((l) => [l.repl, l.controller]);
  const handle: ClusterNode = {
    id,
    address,
    get pid() {
      return running() ? (child?.pid ?? -1) : -1;
    },
    get running() {
      return running();
    },
    get paused() {
      return paused;
    },
    get isolated() {
      return isolated;
    },
    async kill() {
      if (!child || !running()) return;
      const done = exited(child);
      child.kill('SIGKILL');
      paused = false;
      await done;
    },
    pause() {
      if (!child || !running()) throw new Error(`node ${id} is not running`);
      child.kill('SIGSTOP');
      paused = true;
    },
    resume() {
      if (!child || !running()) return;
      child.kill('SIGCONT');
      paused = false;
    },
    async restart() {
      await handle.stop();
      await launch();
    },
    async stop() {
      if (!child || !running()) return;
      if (paused) handle.resume();
      await terminate(child);
    },
    isolate() {
      for (const proxy of peerLinks()) proxy.cut();
      isolated = true;
    },
    reconnect() {
      for (const proxy of peerLinks()) proxy.restore();
      isolated = false;
    },
  };
  return { handle, launch };
}
