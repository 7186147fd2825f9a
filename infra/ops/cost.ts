import { fileURLToPath } from 'node:url';
import { topicSpecs } from '../../shared/events/index.ts';
import { maxConcurrency, partitionsRead } from '../capacity.ts';
import { CONSUMERS, type ConsumerDefinition } from '../consumers.ts';
import { TABLES } from '../resources.ts';
import { STAGES, type StageConfig } from '../stacks/stage.ts';

/**
 * The monthly cost model behind docs/cost.md: AWS list prices (each with its source and the date it was
 * read) applied to the settings in infra/ (stage sizes, consumers, topics, tables) at a given event rate.
 * `npm run cost` prints the tables; test/unit/infra/cost.test.ts fails when docs/cost.md no longer matches.
 */

/** Hours in a month as AWS's pricing examples count them. */
export const HOURS_PER_MONTH = 730;
const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600;

/**
 * US East (N. Virginia) list prices, USD, read 2026-11-30. AWS publishes region prices as text only for
 * us-east-1; eu-west-3 (cdk.json's region) is priced per region in the AWS Pricing Calculator.
 */
export const PRICES = {
  /** aws.amazon.com/msk/pricing (Standard brokers, per broker-hour; xlarge is twice large). */
  mskBrokerHour: { 'kafka.m7g.large': 0.204, 'kafka.m7g.xlarge': 0.408 } as Record<string, number>,
  /** aws.amazon.com/msk/pricing (broker storage, provisioned EBS). */
  mskStorageGbMonth: 0.1,
  /** aws.amazon.com/lambda/pricing, Provisioned Mode for Kafka ESM: $0.185 per EPU-hour, 10 pollers per EPU. */
  epuHour: 0.185,
  pollersPerEpu: 10,
  /** aws.amazon.com/lambda/pricing, Arm: $0.0000133334 per GB-s, $0.20 per million requests. */
  lambdaArmGbSecond: 0.0000133334,
  lambdaRequestPerMillion: 0.2,
  /** aws.amazon.com/dynamodb/pricing/on-demand: $0.625 per million WRU, $0.125 per million RRU, $0.25 GB-month. */
  dynamoWruPerMillion: 0.625,
  dynamoRruPerMillion: 0.125,
  dynamoStorageGbMonth: 0.25,
  /** Continuous backups (PITR), per GB-month of table size. */
  dynamoPitrGbMonth: 0.2,
  /** aws.amazon.com/sqs/pricing: $0.40 per million standard requests. */
  sqsRequestPerMillion: 0.4,
  /** aws.amazon.com/kms/pricing: $1 per key-month (+$1 per rotated backing key), $0.03 per 10,000 requests. */
  kmsKeyMonth: 1,
  kmsRequestPer10k: 0.03,
  /** aws.amazon.com/privatelink/pricing: interface endpoint $0.01 per AZ-hour, $0.01 per GB processed. */
  endpointAzHour: 0.01,
  endpointGb: 0.01,
  /** aws.amazon.com/cloudwatch/pricing: logs $0.50/GB ingested, $0.03/GB-month stored; $0.30 per metric-month;
   * $0.10 per standard alarm-month; $3 per dashboard-month. */
  logsIngestGb: 0.5,
  logsStoreGbMonth: 0.03,
  metricMonth: 0.3,
  alarmMonth: 0.1,
  dashboardMonth: 3,
  /** aws.amazon.com/xray/pricing: $5.00 per million traces recorded. */
  xrayTracePerMillion: 5,
  /** aws.amazon.com/ses/pricing: $0.10 per 1,000 e-mails. */
  sesPer1000: 0.1,
} as const;

/** What the figures assume about the traffic; each is a knob, not a measurement of production. */
export const ASSUMPTIONS = {
  /** Mean record (envelope + payload JSON) in bytes. */
  recordBytes: 1_000,
  /** Share of all events on a topic the notification function reads. */
  notificationShare: 0.5,
  /** Share of notification events that send an e-mail. */
  emailShare: 0.2,
  /** Handler time: fixed per invocation, and per record (sequential DynamoDB calls in a partition batch). */
  invocationOverheadMs: 20,
  auditMsPerRecord: 12,
  notificationMsPerRecord: 15,
  /** Audit entry size in KB (rounded up per WRU), written to the table and each index. */
  auditEntryKb: 2,
  /** Function log bytes per invocation (Powertools JSON lines, no payloads) and per record. */
  logBytesPerInvocation: 600,
  logBytesPerRecord: 250,
  /** VPC flow log bytes per event (records for the ESM's, functions' and endpoints' connections). */
  flowLogBytesPerEvent: 150,
  /** Interface-endpoint traffic per event (STS, KMS, SES, X-Ray calls), bytes. */
  endpointBytesPerEvent: 2_000,
  /** KMS requests per invocation: DynamoDB, SQS and Logs cache their data keys, so few reach KMS. */
  kmsRequestsPerInvocation: 0.01,
} as const;

const round = (n: number) => Math.round(n);
const money = (n: number) => `$${n < 10 ? n.toFixed(2) : round(n).toLocaleString('en-US')}`;

export interface CostLine {
  /** The same at every rate, so lines of different rates line up. */
  line: string;
  monthly: number;
  drivenBy: string;
  /** What the figure means at this rate when it needs saying (a cap reached, a count). */
  note?: string;
}

const consumerByName = (name: string) => {
  const consumer = CONSUMERS.find((c) => c.name === name);
  if (!consumer) throw new Error(`No consumer ${name} in infra/consumers.ts`);
  return consumer as ConsumerDefinition;
};

/** Invocations per second and records per invocation of one consumer at `rate` events/s on its topics. */
const invocations = (consumer: ConsumerDefinition, rate: number) => {
  // One mapping per topic; each invokes at most once per batching window per batch, with up to batchSize.
  const perTopic = rate / consumer.topics.length;
  const window = Math.max(consumer.maxBatchingWindowSeconds, 1);
  const perMapping = perTopic * window < 1 ? perTopic : Math.max(1 / window, perTopic / consumer.batchSize);
  const perSecond = perMapping * consumer.topics.length;
  return { perSecond, recordsPerInvocation: rate / perSecond };
};

/** The monthly cost lines of a stage at `rate` events per second published on the bus. */
export const monthlyCost = (
  stage: StageConfig,
  rate: number,
  options: { pollerGroups: 'per-consumer' | 'none' | 'one' } = { pollerGroups: 'per-consumer' },
): CostLine[] => {
  const a = ASSUMPTIONS;
  const events = rate * SECONDS_PER_MONTH;
  const lines: CostLine[] = [];

  // MSK brokers and storage. Storage auto-scaling targets 60 % use; retention and RF from topicSpecs().
  const specs = topicSpecs();
  const brokerHour = PRICES.mskBrokerHour[stage.brokerInstanceType] ?? Number.NaN;
  lines.push({
    line: 'MSK brokers',
    monthly: stage.brokerNodes * brokerHour * HOURS_PER_MONTH,
    drivenBy: 'stage.ts brokerInstanceType, brokerNodes',
  });
  const meanRetentionS = specs.reduce((s, t) => s + t.retentionMs / 1000, 0) / specs.length;
  const replication = specs[0]?.replicationFactor ?? 3;
  const storedGbPerBroker = (rate * a.recordBytes * meanRetentionS * replication) / 1e9 / stage.brokerNodes;
  const wantedGb = Math.max(stage.brokerVolumeGiB, storedGbPerBroker / 0.6);
  const volumeGb = Math.min(stage.brokerMaxVolumeGiB, wantedGb);
  lines.push({
    line: 'MSK broker storage',
    monthly: stage.brokerNodes * volumeGb * PRICES.mskStorageGbMonth,
    drivenBy: 'stage.ts brokerVolumeGiB, brokerMaxVolumeGiB; catalog retentionDays; REPLICATION_FACTOR',
    ...(storedGbPerBroker > stage.brokerMaxVolumeGiB
      ? {
          note: `retention needs ${round(storedGbPerBroker)} GB per broker, above brokerMaxVolumeGiB ${stage.brokerMaxVolumeGiB}: the disks fill up`,
        }
      : {}),
  });

  // Provisioned pollers: every mapping keeps its minimum; a group packs 10 pollers per EPU.
  const groups =
    options.pollerGroups === 'one'
      ? [CONSUMERS.flatMap((c) => c.topics.map(() => c.pollers.minimum))]
      : options.pollerGroups === 'per-consumer'
        ? CONSUMERS.map((c) => c.topics.map(() => c.pollers.minimum))
        : CONSUMERS.flatMap((c) => c.topics.map(() => [c.pollers.minimum]));
  const epus = groups.reduce((sum, pollers) => {
    const total = pollers.reduce((s, p) => s + p, 0);
    return sum + Math.ceil(total / PRICES.pollersPerEpu);
  }, 0);
  const mappings = CONSUMERS.reduce((s, c) => s + c.topics.length, 0);
  lines.push({
    line: 'ESM provisioned pollers',
    note: `${mappings} mappings, ${epus} EPU with poller groups "${options.pollerGroups}"`,
    monthly: epus * PRICES.epuHour * HOURS_PER_MONTH,
    drivenBy: 'consumers.ts pollers.minimum, one mapping per topic; bus-function.ts pollerGroupName',
  });

  // Lambda: the audit and notification consumers (consultation-drafts and health are negligible).
  const audit = consumerByName('audit');
  const notification = consumerByName('notification');
  let gbSeconds = 0;
  let requests = 0;
  let logBytes = 0;
  const tracedPerSecond: number[] = [];
  for (const [consumer, share, msPerRecord] of [
    [audit, 1, a.auditMsPerRecord],
    [notification, a.notificationShare, a.notificationMsPerRecord],
  ] as const) {
    const inv = invocations(consumer, rate * share);
    const durationS = (a.invocationOverheadMs + msPerRecord * inv.recordsPerInvocation) / 1000;
    gbSeconds += inv.perSecond * durationS * (consumer.memoryMb / 1024) * SECONDS_PER_MONTH;
    requests += inv.perSecond * SECONDS_PER_MONTH;
    tracedPerSecond.push(inv.perSecond);
    logBytes +=
      inv.perSecond * SECONDS_PER_MONTH * a.logBytesPerInvocation +
      rate * share * SECONDS_PER_MONTH * a.logBytesPerRecord;
  }
  lines.push({
    line: 'Lambda (Arm: requests + GB-s)',
    monthly: gbSeconds * PRICES.lambdaArmGbSecond + (requests / 1e6) * PRICES.lambdaRequestPerMillion,
    drivenBy: 'consumers.ts batchSize, maxBatchingWindowSeconds, memoryMb',
  });

  // DynamoDB on demand: audit = entry on the table and each index + chain head; 2 strongly consistent reads.
  const auditWru = a.auditEntryKb * (1 + TABLES.audit.indexes.length) + 1;
  const notificationWru = 4;
  const wru = events * (auditWru + a.notificationShare * notificationWru);
  const rru = events * (2 + a.notificationShare * 2);
  const auditGbPerMonth = (events * a.auditEntryKb * (1 + TABLES.audit.indexes.length)) / 1e6;
  lines.push({
    line: 'DynamoDB on-demand requests',
    note: `${auditWru} WRU per audited event (entry on the table and ${TABLES.audit.indexes.length} indexes, chain head)`,
    monthly: (wru / 1e6) * PRICES.dynamoWruPerMillion + (rru / 1e6) * PRICES.dynamoRruPerMillion,
    drivenBy: 'resources.ts TABLES (audit indexes project ALL), functions/audit/store.ts',
  });
  lines.push({
    line: 'DynamoDB storage + PITR, added each month',
    monthly: auditGbPerMonth * (PRICES.dynamoStorageGbMonth + PRICES.dynamoPitrGbMonth),
    drivenBy: 'resources.ts audit table and indexes (no TTL: the trail is kept); data-stack.ts PITR',
  });

  // SQS: the on-failure queue is empty in normal operation; the Lambda ESM polls nothing from it.
  lines.push({
    line: 'SQS',
    monthly: 0,
    drivenBy: 'resources.ts DEAD_LETTER_QUEUE (idle unless a batch fails)',
  });

  // KMS: bus, flow-log, log and data keys (rotation adds $1 per year per key); requests mostly cached.
  const keys = 4;
  lines.push({
    line: 'KMS',
    monthly:
      keys * PRICES.kmsKeyMonth + ((requests * a.kmsRequestsPerInvocation) / 1e4) * PRICES.kmsRequestPer10k,
    drivenBy:
      'event-bus-stack.ts BusKey, network-stack.ts FlowLogKey, consumers-stack.ts LogKey, data-stack.ts DataKey',
  });

  // Interface endpoints: 6 services × 3 AZs.
  const endpoints = 6;
  const azs = 3;
  lines.push({
    line: 'VPC interface endpoints',
    monthly:
      endpoints * azs * HOURS_PER_MONTH * PRICES.endpointAzHour +
      ((events * a.endpointBytesPerEvent) / 1e9) * PRICES.endpointGb,
    drivenBy: 'network-stack.ts interfaces (SQS, KAFKA, EMAIL, STS, KMS, XRAY), maxAzs',
  });

  // CloudWatch: function + flow logs, MSK PER_TOPIC_PER_BROKER metrics, alarms, dashboard, X-Ray traces.
  const flowBytes = events * a.flowLogBytesPerEvent;
  const ingestGb = (logBytes + flowBytes) / 1e9;
  const storedGb = ingestGb * Math.min(stage.logRetentionDays / 30, 12);
  const mskMetrics = specs.length * stage.brokerNodes * 5 + stage.brokerNodes * 25;
  // consumers-stack.ts: the DLQ depth alarm, Errors and Throttles per function (consumers + health), and
  // OffsetLag per consumer.
  const alarms = 1 + (CONSUMERS.length + 1) * 2 + CONSUMERS.length;
  lines.push({
    line: 'CloudWatch',
    note: `${round(ingestGb)} GB/month of logs, ~${mskMetrics} MSK metrics, ${alarms} alarms, 1 dashboard`,
    monthly:
      ingestGb * PRICES.logsIngestGb +
      storedGb * PRICES.logsStoreGbMonth +
      mskMetrics * PRICES.metricMonth +
      alarms * PRICES.alarmMonth +
      PRICES.dashboardMonth,
    drivenBy:
      'stage.ts logRetentionDays; event-bus-stack.ts enhancedMonitoring PER_TOPIC_PER_BROKER; network-stack.ts flow log (ALL)',
  });
  // Lambda's active tracing samples 1 request per second per function and 5 % of the rest.
  const traces = tracedPerSecond.reduce(
    (sum, perSecond) => sum + Math.min(perSecond, 1 + 0.05 * Math.max(0, perSecond - 1)),
    0,
  );
  lines.push({
    line: 'X-Ray',
    monthly: ((traces * SECONDS_PER_MONTH) / 1e6) * PRICES.xrayTracePerMillion,
    drivenBy: 'bus-function.ts tracing: ACTIVE (default sampling)',
  });
  lines.push({
    line: 'SES e-mails (not the bus: what it sends)',
    monthly: ((events * a.notificationShare * a.emailShare) / 1000) * PRICES.sesPer1000,
    drivenBy: 'notification templates (which events e-mail)',
  });
  return lines;
};

export const RATES = [10, 100, 1_000] as const;

/** docs/cost.md's generated tables. */
export const renderCostTables = (): string => {
  const out: string[] = [];
  const total = (lines: CostLine[]) => lines.reduce((s, l) => s + l.monthly, 0);
  for (const stage of Object.values(STAGES)) {
    out.push(
      `### ${stage.name}: ${stage.brokerNodes} × ${stage.brokerInstanceType}, ${stage.brokerVolumeGiB} GB each (auto-scaling to ${stage.brokerMaxVolumeGiB}), logs ${stage.logRetentionDays} days`,
      '',
    );
    const byRate = RATES.map((rate) => monthlyCost(stage, rate));
    out.push(
      `| line | ${RATES.map((r) => `${r.toLocaleString('en-US')} events/s`).join(' | ')} | driven by (infra/) |`,
    );
    out.push(`| --- | ${RATES.map(() => '---:').join(' | ')} | --- |`);
    for (const [i, line] of (byRate[0] ?? []).entries())
      out.push(
        `| ${line.line} | ${byRate.map((lines) => money(lines[i]?.monthly ?? 0)).join(' | ')} | ${line.drivenBy} |`,
      );
    out.push(`| **total** | ${byRate.map((lines) => `**${money(total(lines))}**`).join(' | ')} | |`);
    out.push(
      `| total without SES | ${byRate.map((lines) => money(total(lines.filter((l) => !l.line.startsWith('SES'))))).join(' | ')} | |`,
      '',
    );
    for (const [i, line] of (byRate[0] ?? []).entries()) {
      const notes = byRate.map((lines) => lines[i]?.note);
      const distinct = [...new Set(notes.filter((n) => n !== undefined))];
      if (distinct.length === 1 && notes.every((n) => n !== undefined))
        out.push(`- ${line.line}: ${distinct[0]}.`);
      else
        for (const [r, note] of notes.entries())
          if (note) out.push(`- ${line.line} at ${RATES[r]?.toLocaleString('en-US')} events/s: ${note}.`);
    }
    out.push('');
  }
  out.push(
    'Provisioned pollers by grouping (both stages, every rate: the minimum pollers carry this traffic):',
    '',
  );
  out.push('| poller groups | EPU | per month |', '| --- | ---: | ---: |');
  for (const grouping of ['none', 'per-consumer', 'one'] as const) {
    const line = monthlyCost(STAGES.dev, RATES[0], { pollerGroups: grouping }).find((l) =>
      l.line.startsWith('ESM'),
    );
    const epu = /(\d+) EPU/.exec(line?.note ?? '')?.[1] ?? '?';
    out.push(`| ${grouping} | ${epu} | ${money(line?.monthly ?? 0)} |`);
  }
  out.push(
    '',
    'Concurrency each consumer can use (`infra/capacity.ts`), against its reserved concurrency today:',
    '',
  );
  out.push(
    '| consumer | topics | partitions read | poller ceiling (mappings × max pollers × 5) | usable concurrency | reserved today |',
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const consumer of CONSUMERS)
    out.push(
      `| ${consumer.name} | ${consumer.topics.length} | ${partitionsRead(consumer)} | ${consumer.topics.length * consumer.pollers.maximum * 5} | ${maxConcurrency(consumer)} | ${consumer.reservedConcurrency} |`,
    );
  return `${out.join('\n')}\n`;
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1])
  process.stdout.write(renderCostTables());
