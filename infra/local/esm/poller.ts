import type { RawRecord } from '../../../shared/kafka/record.ts';
import { partitionKey, toMskRecord } from '../../../shared/lambda/msk-event.ts';

/** Lambda's invocation payload limit; the ESM invokes once a batch reaches it. */
export const MAX_PAYLOAD_BYTES = 6 * 1024 * 1024;

/** A topic-partition as kafkajs names it. */
export interface TopicPartition {
  topic: string;
  partition: number;
}

export interface PollerOptions {
  /** BatchSize: most records per invocation; a batch this full is invoked at once. */
  batchSize: number;
  /** MaximumBatchingWindowInSeconds, in milliseconds: the longest a ready record waits for more. */
  windowMs: number;
  /** Invocations in flight at once (each partition has at most one). */
  concurrency: number;
  /** Payload bytes at which a batch is invoked at once (default 6 MB). */
  maxBytes?: number;
  /** Runs one batch to its end (committed, sent to the on-failure destination, or stopped). */
  run(records: RawRecord[]): Promise<void>;
  /** Stop / start fetching a partition (kafkajs pause/resume): a partition holds at most one full batch. */
  pause(partition: TopicPartition): void;
  resume(partition: TopicPartition): void;
  /** Fetch a partition again from this offset (after a batch could not be completed). */
  seek(partition: TopicPartition, offset: string): void;
  now?(): number;
}

interface Queued {
  record: RawRecord;
  bytes: number;
  at: number;
}

interface PartitionState extends TopicPartition {
  queue: Queued[];
  bytes: number;
  /** A batch holding records of this partition is running. */
  busy: boolean;
  paused: boolean;
  /** Highest offset queued or handed to a batch: a re-fetch of it (after a rebalance) is dropped. */
  seen: bigint;
  /** The offset after the last record finished (committed or discarded), i.e. where a re-fetch starts. */
  done: bigint;
}

/** Size of a record inside the event's JSON (what counts toward the 6 MB payload). */
export const recordBytes = (record: RawRecord): number =>
  Buffer.byteLength(JSON.stringify(toMskRecord(record))) + 1;

/**
 * The ESM's poller, between kafkajs and the invocations. kafkajs hands over what each fetch returned, one
 * partition at a time; the poller keeps it and invokes the function with one batch of records of as many
 * partitions as are ready together, as soon as the batch reaches BatchSize or 6 MB, or once the oldest
 * waiting record has waited MaximumBatchingWindowInSeconds
 * (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-configure.html, "batching window";
 * https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html#invocation-eventsourcemapping-batching).
 * A partition has at most one batch in flight, and its records are invoked in offset order; a partition
 * whose queue holds a full batch is paused until it drains.
 */
export class Poller {
  readonly #options: PollerOptions;
  readonly #maxBytes: number;
  readonly #now: () => number;
  readonly #partitions = new Map<string, PartitionState>();
  readonly #inFlight = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Number.POSITIVE_INFINITY;
  #stopped = false;

  constructor(options: PollerOptions) {
    this.#options = options;
    this.#maxBytes = options.maxBytes ?? MAX_PAYLOAD_BYTES;
    this.#now = options.now ?? Date.now;
  }

  /** Records kafkajs fetched for one partition, in offset order. */
  add(records: RawRecord[]): void {
    if (this.#stopped || records.length === 0) return;
    const first = records[0] as RawRecord;
    const key = partitionKey(first.topic, first.partition);
    let state = this.#partitions.get(key);
    if (!state) {
      const start = BigInt(first.offset);
      state = {
        topic: first.topic,
        partition: first.partition,
        queue: [],
        bytes: 0,
        busy: false,
        paused: false,
        seen: start - 1n,
        done: start,
      };
      this.#partitions.set(key, state);
    }
    const at = this.#now();
    for (const record of records) {
      const offset = BigInt(record.offset);
      if (offset <= state.seen) continue;
      state.seen = offset;
      const bytes = recordBytes(record);
      state.queue.push({ record, bytes, at });
      state.bytes += bytes;
    }
    this.#dispatch();
    this.#throttle(state);
  }

  /** The consumer's assignment after a rebalance: partitions it lost are forgotten (their queue dropped). */
  assigned(assignment: Record<string, number[]>): void {
    const owned = new Set(
      Object.entries(assignment).flatMap(([topic, partitions]) =>
        partitions.map((p) => partitionKey(topic, p)),
      ),
    );
    for (const [key, state] of this.#partitions) {
      if (owned.has(key)) continue;
      if (state.paused) this.#options.resume(state);
      this.#partitions.delete(key);
    }
  }

  /** Whether records of this partition may still be committed or retried (it was not lost in a rebalance). */
  owns(topic: string, partition: number): boolean {
    return !this.#stopped && this.#partitions.has(partitionKey(topic, partition));
  }

  /** A batch's records are finished (committed or discarded) up to these offsets. */
  finished(records: RawRecord[]): void {
    for (const record of records) {
      const state = this.#partitions.get(partitionKey(record.topic, record.partition));
      const next = BigInt(record.offset) + 1n;
      if (state && next > state.done) state.done = next;
    }
  }

  /** Records waiting (not yet in a batch), for tests and diagnostics. */
  get waiting(): number {
    let n = 0;
    for (const state of this.#partitions.values()) n += state.queue.length;
    return n;
  }

  /** No new batch starts; resolves when the running ones have ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await Promise.allSettled([...this.#inFlight]);
  }

  #throttle(state: PartitionState): void {
    const full = state.queue.length >= this.#options.batchSize || state.bytes >= this.#maxBytes;
    if (full && !state.paused) {
      state.paused = true;
      this.#options.pause(state);
    } else if (!full && state.paused) {
      state.paused = false;
      this.#options.resume(state);
    }
  }

  #dispatch(): void {
    while (!this.#stopped && this.#inFlight.size < this.#options.concurrency) {
      const ready = [...this.#partitions.values()]
        .filter((s) => !s.busy && s.queue.length > 0)
        .sort((a, b) => (a.queue[0] as Queued).at - (b.queue[0] as Queued).at);
      if (ready.length === 0) return;
      let count = 0;
      let bytes = 0;
      for (const s of ready) {
        count += s.queue.length;
        bytes += s.bytes;
      }
      const oldest = ((ready[0] as PartitionState).queue[0] as Queued).at;
      const due = oldest + this.#options.windowMs;
      if (count < this.#options.batchSize && bytes < this.#maxBytes && this.#now() < due) {
        this.#wakeAt(due);
        return;
      }
      this.#start(this.#take(ready));
    }
  }

  /** Up to BatchSize records and 6 MB, oldest partition first, each partition's records in offset order. */
  #take(ready: PartitionState[]): { records: RawRecord[]; states: PartitionState[] } {
    const records: RawRecord[] = [];
    const states: PartitionState[] = [];
    let bytes = 0;
    for (const state of ready) {
      let taken = 0;
      while (state.queue.length > 0 && records.length < this.#options.batchSize) {
        const next = state.queue[0] as Queued;
        if (records.length > 0 && bytes + next.bytes > this.#maxBytes) break;
        state.queue.shift();
        state.bytes -= next.bytes;
        bytes += next.bytes;
        records.push(next.record);
        taken += 1;
      }
      if (taken > 0) {
        state.busy = true;
        states.push(state);
        this.#throttle(state);
      }
      if (records.length >= this.#options.batchSize) break;
      if (records.length > 0 && bytes >= this.#maxBytes) break;
    }
    return { records, states };
  }

  #start({ records, states }: { records: RawRecord[]; states: PartitionState[] }): void {
    const running: Promise<void> = this.#options
      .run(records)
      .catch(() => {
        // The batch could not be completed (a commit or the on-failure send failed): fetch its partitions
        // again from the last finished offset, so nothing is dropped.
        for (const state of states) {
          if (this.#partitions.get(partitionKey(state.topic, state.partition)) !== state) continue;
          for (const q of state.queue) state.bytes -= q.bytes;
          state.queue = [];
          state.seen = state.done - 1n;
          this.#throttle(state);
          this.#options.seek(state, state.done.toString());
        }
      })
      .finally(() => {
        this.#inFlight.delete(running);
        for (const state of states) state.busy = false;
        this.#dispatch();
      });
    this.#inFlight.add(running);
  }

  #wakeAt(at: number): void {
    if (this.#timer && this.#timerAt <= at) return;
    clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(
      () => {
        this.#timer = undefined;
        this.#timerAt = Number.POSITIVE_INFINITY;
        this.#dispatch();
      },
      Math.max(0, at - this.#now()),
    );
  }
}
