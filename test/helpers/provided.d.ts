/** Values the integration global setup hands to the tests through `inject()`. */
declare module 'vitest' {
  export interface ProvidedContext {
    /** Comma-separated bootstrap brokers of the Kafka the run uses (local broker or KAFKA_BROKERS). */
    kafkaBrokers: string;
  }
}

export {};
