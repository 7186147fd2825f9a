import { CONSUMERS } from '../infra/consumers.ts';
import { CATALOG, catalogTopics } from '../shared/events/catalog.ts';
import { type ConsumerHealth, type ConsumerProbe, checkKafkaHealth } from '../shared/kafka/health.ts';

/** One sample of every consumer's total lag, for the chart. */
export interface LagSample {
  at: number;
  lag: Record<string, number>;
}

export interface ConsumerSnapshot {
  at: string;
  status: string;
  error?: string;
  consumers: ConsumerHealth[];
  history: LagSample[];
}

/**
 * The consumers' state and lag, as `/health/kafka` reports them (this process's consumers under `npm start`,
 * the event-source mappings on a stage), sampled every `everyMs` from the first view of the Consumers page
 * until nobody has looked for `keepMs` (a stack nobody watches pays nothing); the last `keepMs` of samples
 * feed the lag chart.
 */
export class LagHistory {
  readonly #samples: LagSample[] = [];
  #last: ConsumerSnapshot | undefined;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<ConsumerSnapshot> | undefined;
  #viewedAt = 0;

  constructor(
    private readonly probe: ConsumerProbe | undefined,
    private readonly everyMs = 5_000,
    private readonly keepMs = 10 * 60_000,
  ) {}

  /** Someone is looking: sample from now on (until nobody has looked for `keepMs`). */
  watch(): void {
    this.#viewedAt = Date.now();
    this.#timer ??= setInterval(() => {
      if (Date.now() - this.#viewedAt > this.keepMs) this.stop();
      else void this.sample().catch(() => undefined);
    }, this.everyMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Samples now (one check at a time; concurrent callers share it). */
  sample(): Promise<ConsumerSnapshot> {
    this.#running ??= (async () => {
      try {
        const health = await checkKafkaHealth(this.probe ? { consumers: this.probe } : {});
        const at = Date.now();
        const consumers = health.consumers ?? [];
        this.#samples.push({
          at,
          lag: Object.fromEntries(
            consumers.map((c) => [c.name, Object.values(c.lag).reduce((a, b) => a + b, 0)]),
          ),
        });
        while (this.#samples.length && (this.#samples[0]?.at ?? at) < at - this.keepMs) this.#samples.shift();
        this.#last = {
          at: new Date(at).toISOString(),
          status: health.status,
          ...(health.status === 'unhealthy' ? { error: health.error } : {}),
          consumers,
          history: [...this.#samples],
        };
        return this.#last;
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  /** The newest snapshot, sampling when there is none yet. */
  async latest(): Promise<ConsumerSnapshot> {
    return this.#last ?? this.sample();
  }
}

/** The catalog as the console shows it: one row per topic, with who reads it. */
export const catalogRows = () =>
  catalogTopics().map((topic) => {
    const d = CATALOG[topic] as unknown as {
      description: string;
      key: string;
      phi: readonly string[];
      resource: { type: string; idField: string };
      patientField?: string;
      partitions: number;
      retentionDays: number;
      schemaVersion: number;
      schema: { shape: Record<string, { safeParse(v: unknown): { success: boolean } }> };
    };
    const fields = Object.entries(d.schema.shape).map(
      ([name, s]) => `${name}${s.safeParse(undefined).success ? '?' : ''}`,
    );
    return {
      topic,
      description: d.description,
      fields,
      key: d.key,
      phi: d.phi,
      resource: `${d.resource.type} (${d.resource.idField})`,
      patientField: d.patientField ?? '',
      partitions: d.partitions,
      retentionDays: d.retentionDays,
      schemaVersion: d.schemaVersion,
      consumers: CONSUMERS.filter((c) => (c.topics as readonly string[]).includes(topic)).map((c) => c.name),
    };
  });
