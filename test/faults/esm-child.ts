import { CONSUMERS } from '../../infra/consumers.ts';
import { type RunningEsm, startEsm } from '../../infra/local/esm/emulator.ts';
import { sqsOnFailureSink } from '../../infra/local/esm/on-failure.ts';
import { createKafka } from '../../shared/kafka/config.ts';
import { producer } from '../../shared/kafka/producer.ts';
import { deliveryTimeoutEnv, recordRetryEnv } from '../../shared/lambda/settings.ts';

/**
 * The process a fault run SIGKILLs: the ESM emulator for every consumer of infra/consumers.ts with the real
 * handlers, and nothing else (the broker and the AWS servers live in the parent, so a kill loses only what
 * this process held in memory). Reads the stack from the environment (KAFKA_BROKERS, the AWS endpoints,
 * ESM_DLQ_URL). FAULTS_GROUP_SUFFIX is appended to the group ids (one set of groups per fault stack). Prints one `{"faultsChild":"ready"}` line once every ESM runs.
 */
const suffix = process.env.FAULTS_GROUP_SUFFIX ?? '';
const windowScale = Number(process.env.FAULTS_WINDOW_SCALE ?? '1');

// The in-function retry policy the CDK app gives each function (consumers-stack.ts sets RECORD_RETRY).
const [first] = CONSUMERS;
Object.assign(
  process.env,
  recordRetryEnv(first.recordRetry),
  deliveryTimeoutEnv(first.timeoutSeconds, first.recordRetry),
);

const kafka = await createKafka();
const onFailure = sqsOnFailureSink();
const esms: RunningEsm[] = [];
for (const definition of CONSUMERS) {
  esms.push(
    await startEsm({
      source: { ...definition, groupId: `${definition.groupId}${suffix}` },
      onFailure,
      kafka,
      windowScale,
    }),
  );
}
process.stdout.write(`${JSON.stringify({ faultsChild: 'ready', pid: process.pid })}\n`);

let stopping = false;
process.on('SIGTERM', () => {
  if (stopping) return;
  stopping = true;
  void (async () => {
    await Promise.allSettled(esms.map((e) => e.stop()));
    await producer.disconnect().catch(() => undefined);
    process.exit(0);
  })();
});
