import type { Consumer } from 'kafkajs';
import { logger } from '../log.ts';
import { type ConsumerState, type ConsumerStatus, registerConsumerStatus } from './consumer-status.ts';

/** Capped exponential backoff between the supervisor's restarts of a consumer kafkajs gave up on. */
export interface RestartBackoff {
  /** First delay (default 1 s); doubled after each restart that did not last. */
  initialMs: number;
  /** Ceiling of the delay (default 30 s); a consumer that ran this long since its last crash starts over. */
  maxMs: number;
}

export const DEFAULT_RESTART_BACKOFF: RestartBackoff = { initialMs: 1_000, maxMs: 30_000 };

export interface SuperviseOptions {
  /** Who consumes (the function name, or the service's group id), as `/health/kafka` names it. */
  name: string;
  groupId: string;
  /** The topics the group reads, now (they can change, e.g. a RegExp subscription that grew). */
  topics: () => readonly string[];
  /** A new, unconnected kafkajs consumer; called for the first start and for every restart. */
  create: () => Consumer;
  /** Connects, subscribes and runs the consumer `create` returned. */
  start: (consumer: Consumer) => Promise<void>;
  backoff?: Partial<RestartBackoff>;
}

export interface SupervisedConsumer {
  /** The kafkajs consumer running now (undefined while a restart is pending). */
  readonly consumer: Consumer | undefined;
  status(): ConsumerStatus;
  /** Stops on purpose: no restart; the consumer leaves `/health/kafka`. */
  stop(): Promise<void>;
}

/** The class of an error and of its innermost cause (kafkajs wraps: KafkaJSNonRetriableError ← TypeError). */
const errorClasses = (error: unknown): { errorClass: string; cause?: string } => {
  const name = (e: unknown) => (e instanceof Error ? e.name : typeof e);
  let inner = error;
  while (inner instanceof Error && inner.cause !== undefined && inner.cause !== inner) inner = inner.cause;
  const errorClass = name(error);
  const cause = name(inner);
  return cause === errorClass ? { errorClass } : { errorClass, cause };
};

/**
 * Keeps a kafkajs consumer alive. kafkajs 2.2.4 restarts a crashed consumer by itself only when the error
 * is retriable (`KafkaJSNumberOfRetriesExceeded`, or an original cause with `retriable: true`); it gives up,
 * with the consumer disconnected and nothing but an error log line, on everything else: a codec it does not
 * implement, no broker available, a `TypeError` thrown while handling a batch, a failed join. Its CRASH
 * event says which (`payload.restart`). The supervisor lets kafkajs restart what it restarts (the state is
 * `restarting` until the group is joined again) and restarts the rest itself, with a fresh consumer, after
 * a capped exponential backoff. A consumer that disconnects without a crash and without `stop()` (killed
 * from elsewhere) is restarted the same way. Every crash is logged with its error class, never a message.
 */
export const superviseConsumer = async (options: SuperviseOptions): Promise<SupervisedConsumer> => {
  const backoff = { ...DEFAULT_RESTART_BACKOFF, ...options.backoff };
  let current: Consumer | undefined;
  let state: ConsumerState = 'restarting';
  let restarts = 0;
  let attempt = 0;
  let runningSince = 0;
  let lastError: ConsumerStatus['lastError'];
  let timer: NodeJS.Timeout | undefined;
  let stopping = false;
  const who = { name: options.name, groupId: options.groupId };

  const running = () => {
    state = 'running';
    runningSince = Date.now();
  };

  const scheduleRestart = () => {
    if (stopping) return;
    const delay = Math.min(backoff.maxMs, backoff.initialMs * 2 ** attempt);
    attempt += 1;
    logger.warn('Restarting the Kafka consumer', { ...who, inMs: delay, attempt });
    timer = setTimeout(() => void launch(), delay);
    timer.unref();
  };

  const died = (error: unknown, restartedByKafkajs: boolean) => {
    if (stopping) return;
    if (runningSince && Date.now() - runningSince >= backoff.maxMs) attempt = 0;
    runningSince = 0;
    state = 'restarting';
    restarts += 1;
    const classes = errorClasses(error);
    lastError = { errorClass: classes.errorClass, at: new Date().toISOString() };
    logger.error('Kafka consumer crashed', {
      ...who,
      ...classes,
      restartedBy: restartedByKafkajs ? 'kafkajs' : 'supervisor',
    });
    if (!restartedByKafkajs) {
      current = undefined;
      scheduleRestart();
    }
  };

  const watch = (consumer: Consumer) => {
    let crashes = 0;
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      if (current !== consumer) return;
      crashes += 1;
      // kafkajs has disconnected it; its own restart reconnects and joins again (GROUP_JOIN below).
      died(payload.error, payload.restart);
    });
    consumer.on(consumer.events.GROUP_JOIN, () => {
      if (current === consumer && !stopping) running();
    });
    consumer.on(consumer.events.DISCONNECT, () => {
      if (current !== consumer || stopping) return;
      // kafkajs disconnects a crashing consumer before it emits CRASH (a microtask later): wait past it.
      const seen = crashes;
      setImmediate(() => {
        if (current !== consumer || stopping || crashes !== seen) return;
        const error = new Error('The consumer disconnected without being stopped');
        error.name = 'ConsumerDisconnected';
        died(error, false);
      });
    });
  };

  const launch = async (): Promise<void> => {
    timer = undefined;
    if (stopping) return;
    const consumer = options.create();
    current = consumer;
    watch(consumer);
    try {
      await options.start(consumer);
      // run() returns once the group is joined (GROUP_JOIN has set `running`), or after a failed join was
      // reported as a crash (the state stays `restarting`).
      if (current !== consumer || stopping || state !== 'running') return;
      if (restarts > 0) logger.info('Kafka consumer running again', { ...who, restarts });
    } catch (error) {
      if (current !== consumer) return;
      await consumer.disconnect().catch(() => undefined);
      if (restarts === 0 && runningSince === 0 && !lastError) throw error;
      died(error, false);
    }
  };

  const status = (): ConsumerStatus => ({
    ...who,
    state,
    topics: options.topics(),
    restarts,
    ...(lastError ? { lastError } : {}),
  });
  const unregister = registerConsumerStatus({ status });
  try {
    await launch();
  } catch (error) {
    stopping = true;
    unregister();
    throw error;
  }

  return {
    get consumer() {
      return current;
    },
    status,
    async stop() {
      stopping = true;
      state = 'stopped';
      clearTimeout(timer);
      const consumer = current;
      current = undefined;
      try {
        await consumer?.disconnect();
      } finally {
        unregister();
      }
    },
  };
};
