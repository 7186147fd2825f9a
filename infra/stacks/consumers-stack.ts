import { Duration, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { CONSUMER_FUNCTIONS_ENV } from '../../functions/health/mappings.ts';
import { topicSpecs } from '../../shared/events/index.ts';
import { deliveryTimeoutEnv } from '../../shared/lambda/settings.ts';
import { BusFunction } from '../constructs/bus-function.ts';
import { BusLayer } from '../constructs/bus-layer.ts';
import {
  consumerKafkaStatements,
  healthKafkaStatements,
  type KafkaArns,
  KafkaResources,
} from '../constructs/kafka-access.ts';
import { CONSUMERS, type ConsumerDefinition } from '../consumers.ts';
import { AUDIT_ANCHOR, EMAIL, TABLES, type TableKey } from '../resources.ts';
import type { StageConfig } from './stage.ts';

/**
 * `/health/kafka` on AWS reports the consumer functions' event-source mappings (ListEventSourceMappings per
 * function: State, StateTransitionReason) and their CloudWatch OffsetLag. Neither action supports
 * resource-level permissions, hence `*`; both are read-only.
 */
const grantHealthConsumerReads = (health: BusFunction, consumers: BusFunction[]): void => {
  health.fn.addEnvironment(CONSUMER_FUNCTIONS_ENV, consumers.map((c) => c.fn.functionName).join(','));
  health.role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'ReadConsumerMappings',
      actions: ['lambda:ListEventSourceMappings'],
      resources: ['*'],
    }),
  );
  health.role.addToPolicy(
    new iam.PolicyStatement({
      sid: 'ReadOffsetLag',
      actions: ['cloudwatch:GetMetricData'],
      resources: ['*'],
    }),
  );
};

export interface ConsumersStackProps extends StackProps {
  stage: StageConfig;
  vpc: ec2.IVpc;
  functionSecurityGroup: ec2.ISecurityGroup;
  /** The cluster ARN and its topic/group ARN prefixes (EventBusStack.kafkaArns()). */
  kafka: KafkaArns;
  tables: Record<TableKey, dynamodb.ITable>;
  deadLetterQueue: sqs.IQueue;
  dataKey: kms.IKey;
  emailFrom: string;
  emailIdentity: string;
  configurationSetName: string;
  /** The audit anchor bucket's name (DataStack.auditAnchor; a literal, so grants name it without an import). */
  auditAnchorBucketName: string;
  /** The consumer functions (default: infra/consumers.ts); the scale test passes more. */
  consumers?: readonly ConsumerDefinition[];
  /** Every topic of the bus (default: topicSpecs()), for domain-wide grants and the health function. */
  topics?: readonly string[];
}

/**
 * How a function may use a table. The audit trail is tamper-evident: its writer may add entries (PutItem,
 * guarded in functions/audit/store.ts by conditions) and read them (GetItem, Query), never rewrite or delete
 * one (no UpdateItem, DeleteItem, BatchWriteItem).
 */
export const TABLE_ACCESS: Record<TableKey, 'append-only' | 'read-write'> = {
  audit: 'append-only',
  contacts: 'read-write',
  inbox: 'read-write',
  deliveries: 'read-write',
  consultations: 'read-write',
};

export const TABLE_ACTIONS = {
  'append-only': ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem'],
  'read-write': [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:BatchWriteItem',
    'dynamodb:ConditionCheckItem',
    'dynamodb:DescribeTable',
  ],
} as const;

/** Dead letters per 5 minutes, as a percentage of the records a function handled, that pages someone. */
export const DEAD_LETTER_RATE_THRESHOLD_PERCENT = 1;

/**
 * Item-level DynamoDB access to the consumer's own tables and their named indexes (no `index/*`), and the
 * data key's encrypt/decrypt actions by name (no `GenerateDataKey*` wildcard).
 */
export const tableStatements = (
  keys: readonly TableKey[],
  tables: Record<TableKey, dynamodb.ITable>,
  dataKey: kms.IKey,
): iam.PolicyStatement[] => {
  if (!keys.length) return [];
  const byAccess = (access: 'append-only' | 'read-write') =>
    keys
      .filter((k) => TABLE_ACCESS[k] === access)
      .flatMap((k) => [
        tables[k].tableArn,
        ...TABLES[k].indexes.map((i) => `${tables[k].tableArn}/index/${i.name}`),
      ]);
  const appendOnly = byAccess('append-only');
  const readWrite = byAccess('read-write');
  return [
    ...(appendOnly.length
      ? [
          new iam.PolicyStatement({
            sid: 'AppendOnlyTables',
            actions: [...TABLE_ACTIONS['append-only']],
            resources: appendOnly,
          }),
        ]
      : []),
    ...(readWrite.length
      ? [
          new iam.PolicyStatement({
            sid: 'OwnTables',
            actions: [...TABLE_ACTIONS['read-write']],
            resources: readWrite,
          }),
        ]
      : []),
    new iam.PolicyStatement({
      sid: 'DataKey',
      actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
      resources: [dataKey.keyArn],
    }),
  ];
};

/** What the anchor function may never do to its bucket (an explicit Deny, on top of the bucket policy's). */
export const ANCHOR_DENIED_ACTIONS = [
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:BypassGovernanceRetention',
  's3:PutBucketObjectLockConfiguration',
  's3:PutBucketVersioning',
  's3:PutLifecycleConfiguration',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:DeleteBucket',
] as const;

/**
 * The anchor function's grants: scan and query the audit table (chain heads and slots), read the bucket's
 * listings and objects, and put objects and retentions under `digests/` and `archive/` only in COMPLIANCE
 * mode for at least the stage's retention (the condition keys hold on PutObject and PutObjectRetention);
 * deletes, retention bypass and any change to the lock, versioning or lifecycle are denied outright.
 */
export const anchorStatements = (
  audit: dynamodb.ITable,
  bucket: s3.IBucket,
  dataKey: kms.IKey,
  retentionDays: number,
): iam.PolicyStatement[] => {
  const prefixes = ['digests/*', 'archive/*'].map((p) => bucket.arnForObjects(p));
  return [
    new iam.PolicyStatement({
      sid: 'ReadAuditChains',
      actions: ['dynamodb:Scan', 'dynamodb:Query'],
      resources: [audit.tableArn],
    }),
    new iam.PolicyStatement({
      sid: 'ListAnchor',
      actions: ['s3:ListBucket', 's3:ListBucketVersions'],
      resources: [bucket.bucketArn],
    }),
    new iam.PolicyStatement({
      sid: 'ReadAnchor',
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resources: prefixes,
    }),
    new iam.PolicyStatement({
      sid: 'WriteLockedAnchor',
      actions: ['s3:PutObject', 's3:PutObjectRetention'],
      resources: prefixes,
      conditions: {
        StringEquals: { 's3:object-lock-mode': 'COMPLIANCE' },
        // S3 counts whole days left; the writer asks for exactly retentionDays, a moment before S3 checks.
        NumericGreaterThanEquals: { 's3:object-lock-remaining-retention-days': String(retentionDays - 1) },
      },
    }),
    new iam.PolicyStatement({
      sid: 'NeverDeleteOrUnlock',
      effect: iam.Effect.DENY,
      actions: [...ANCHOR_DENIED_ACTIONS],
      resources: [bucket.bucketArn, bucket.arnForObjects('*')],
    }),
    new iam.PolicyStatement({
      sid: 'DataKey',
      actions: ['kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey', 'kms:DescribeKey'],
      resources: [dataKey.keyArn],
    }),
  ];
};

/** Offset lag above which a consumer is falling behind (records, max over its mappings, 5 minutes). */
export const OFFSET_LAG_THRESHOLD = 1_000;

/**
 * The functions: the producer layer, one BusFunction per consumer in infra/consumers.ts with its MSK
 * event-source mappings, the health function behind an IAM-authenticated URL, alarms and a dashboard.
 */
export class ConsumersStack extends Stack {
  readonly layer: lambda.LayerVersion;
  readonly functions: Record<string, BusFunction> = {};
  readonly health: BusFunction;
  /** Writes the audit digests (hourly) and archives (daily) to the locked bucket. */
  readonly anchor: BusFunction;
  readonly anchorRules: events.Rule[];
  readonly anchorBucket: s3.IBucket;
  readonly healthUrl: lambda.FunctionUrl;
  readonly alarmTopic: sns.Topic;
  /** The definitions the functions were built from, by function name, and every topic of the bus. */
  readonly definitions: Record<string, ConsumerDefinition> = {};
  readonly catalog: readonly string[];
  readonly stageConfig: StageConfig;

  constructor(scope: Construct, id: string, props: ConsumersStackProps) {
    super(scope, id, props);
    const { stage } = props;
    const retain = stage.retainData;
    const kafka = new KafkaResources(props.kafka);
    const catalog = props.topics ?? topicSpecs().map((s) => s.topic);
    this.catalog = catalog;
    this.stageConfig = stage;
    const reserved = (n: number) => (stage.reserveConcurrency ? n : undefined);

    const logKey = new kms.Key(this, 'LogKey', {
      description: 'esante function logs and alarm notifications',
      enableKeyRotation: true,
      removalPolicy: retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    logKey.grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${this.region}.amazonaws.com`));
    logKey.grantEncryptDecrypt(new iam.ServicePrincipal('cloudwatch.amazonaws.com'));

    this.layer = new BusLayer(this, 'BusLayer', { retain }).layer;

    const common = {
      vpc: props.vpc,
      securityGroup: props.functionSecurityGroup,
      layer: this.layer,
      logKey,
      logRetentionDays: stage.logRetentionDays,
      retainLogs: retain,
      environmentKey: props.dataKey,
    };
    const kafkaEnv = { MSK_CLUSTER_ARN: props.kafka.clusterArn, KAFKA_AUTH: 'iam' };

    for (const consumer of props.consumers ?? (CONSUMERS as readonly ConsumerDefinition[])) {
      const environment: Record<string, string> = {
        ...kafkaEnv,
        KAFKA_CLIENT_ID: `esante-${consumer.name}`,
        POWERTOOLS_SERVICE_NAME: consumer.name,
        RECORD_RETRY: JSON.stringify(consumer.recordRetry),
        ...deliveryTimeoutEnv(consumer.timeoutSeconds, consumer.recordRetry),
      };
      for (const t of consumer.tables) environment[TABLES[t].env] = props.tables[t].tableName;
      if (consumer.sendsEmail) {
        environment[EMAIL.fromEnv] = props.emailFrom;
        environment.SES_CONFIGURATION_SET = props.configurationSetName;
      }
      const fn = new BusFunction(this, `Fn-${consumer.name}`, {
        ...common,
        name: consumer.name,
        entry: consumer.entry,
        description: consumer.description,
        environment,
        timeoutSeconds: consumer.timeoutSeconds,
        memoryMb: consumer.memoryMb,
        reservedConcurrency: reserved(consumer.reservedConcurrency),
        kafkaStatements: consumerKafkaStatements(kafka, consumer, { catalog, stage: stage.name }),
      });
      for (const statement of tableStatements(consumer.tables, props.tables, props.dataKey)) {
        fn.role.addToPolicy(statement);
      }
      if (consumer.sendsEmail) {
        fn.role.addToPolicy(
          new iam.PolicyStatement({
            sid: 'SendEmail',
            actions: ['ses:SendEmail'],
            resources: [
              this.formatArn({ service: 'ses', resource: 'identity', resourceName: props.emailIdentity }),
              this.formatArn({
                service: 'ses',
                resource: 'configuration-set',
                resourceName: props.configurationSetName,
              }),
            ],
          }),
        );
      }
      fn.consume(consumer, props.kafka.clusterArn, props.deadLetterQueue, stage.name);
      this.functions[consumer.name] = fn;
      this.definitions[consumer.name] = consumer;
    }

    this.health = new BusFunction(this, 'Fn-health', {
      ...common,
      name: 'health',
      entry: 'functions/health/handler.ts',
      description: "The seed's /health/kafka: connects to the cluster and lists topics",
      environment: { ...kafkaEnv, KAFKA_CLIENT_ID: 'esante-health', POWERTOOLS_SERVICE_NAME: 'health' },
      timeoutSeconds: 10,
      reservedConcurrency: reserved(2),
      kafkaStatements: healthKafkaStatements(kafka, catalog),
    });
    this.healthUrl = this.health.fn.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.AWS_IAM });
    grantHealthConsumerReads(this.health, Object.values(this.functions));

    const anchorBucket = s3.Bucket.fromBucketName(this, 'AuditAnchor', props.auditAnchorBucketName);
    this.anchorBucket = anchorBucket;
    this.anchor = new BusFunction(this, 'Fn-audit-anchor', {
      ...common,
      name: 'audit-anchor',
      entry: 'functions/audit/anchor-handler.ts',
      description: 'Audit trail digests and archives into the Object Lock (compliance) bucket',
      environment: {
        POWERTOOLS_SERVICE_NAME: 'audit-anchor',
        [TABLES.audit.env]: props.tables.audit.tableName,
        [AUDIT_ANCHOR.env]: anchorBucket.bucketName,
        [AUDIT_ANCHOR.retentionEnv]: String(stage.auditRetentionDays),
      },
      timeoutSeconds: 300,
      memoryMb: 512,
      reservedConcurrency: reserved(1),
      kafkaStatements: [],
    });
    for (const statement of anchorStatements(
      props.tables.audit,
      anchorBucket,
      props.dataKey,
      stage.auditRetentionDays,
    ))
      this.anchor.role.addToPolicy(statement);
    const schedule = (id: string, every: Duration, task: 'digest' | 'archive') =>
      new events.Rule(this, id, {
        description: `Audit ${task} into the locked bucket`,
        schedule: events.Schedule.rate(every),
        targets: [
          new targets.LambdaFunction(this.anchor.fn, {
            event: events.RuleTargetInput.fromObject({ task }),
            retryAttempts: 2,
            maxEventAge: Duration.hours(1),
          }),
        ],
      });
    this.anchorRules = [
      schedule('AuditDigestSchedule', Duration.minutes(AUDIT_ANCHOR.digestEveryMinutes), 'digest'),
      schedule('AuditArchiveSchedule', Duration.hours(AUDIT_ANCHOR.archiveEveryHours), 'archive'),
    ];

    // Operations: every alarm notifies one encrypted topic.
    this.alarmTopic = new sns.Topic(this, 'Alarms', {
      displayName: `esante ${stage.name} event bus alarms`,
      masterKey: logKey,
      enforceSSL: true,
    });
    const notify = new actions.SnsAction(this.alarmTopic);
    const alarm = (id: string, metric: cloudwatch.IMetric, threshold: number, description: string) => {
      const a = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      a.addAlarmAction(notify);
      a.addOkAction(notify);
      return a;
    };

    const dlqDepth = props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(1),
      statistic: 'Maximum',
    });
    alarm(
      'DlqDepthAlarm',
      dlqDepth,
      1,
      'A batch exhausted its ESM retries: its on-failure record is in the DLQ',
    );

    const widgets: cloudwatch.IWidget[] = [];
    for (const fn of [...Object.values(this.functions), this.health, this.anchor]) {
      const name = fn.node.id.replace(/^Fn-/, '');
      const errors = fn.fn.metricErrors({ period: Duration.minutes(5), statistic: 'Sum' });
      const throttles = fn.fn.metricThrottles({ period: Duration.minutes(5), statistic: 'Sum' });
      alarm(`${name}-Errors`, errors, 1, `${name}: invocations failed`);
      alarm(`${name}-Throttles`, throttles, 1, `${name}: invocations throttled (reserved concurrency)`);
      const row: cloudwatch.IMetric[] = [errors, throttles];
      if (fn.mappings.length) {
        alarm(`${name}-OffsetLag`, fn.offsetLag(), OFFSET_LAG_THRESHOLD, `${name}: consumer lag is growing`);
        row.push(fn.offsetLag());
        // Records the function dead-lettered to esante.dlq (Powertools EMF, shared/lambda/consumer.ts), as a
        // share of what it handled: a rate, so a busy consumer's rare bad record does not page, a burst does.
        const counted = (metricName: string) =>
          new cloudwatch.Metric({
            namespace: 'esante',
            metricName,
            dimensionsMap: { service: name },
            statistic: 'Sum',
            period: Duration.minutes(5),
          });
        const deadLettered = counted('RecordsDeadLettered');
        const rate = new cloudwatch.MathExpression({
          expression: '100 * FILL(dl, 0) / MAX([FILL(ok, 0) + FILL(dl, 0), 1])',
          usingMetrics: { dl: deadLettered, ok: counted('RecordsProcessed') },
          label: `${name} dead-lettered %`,
          period: Duration.minutes(5),
        });
        alarm(
          `${name}-DeadLetterRate`,
          rate,
          DEAD_LETTER_RATE_THRESHOLD_PERCENT,
          `${name}: ${DEAD_LETTER_RATE_THRESHOLD_PERCENT}% or more of its records went to esante.dlq in 5 minutes`,
        );
        row.push(deadLettered);
      }
      widgets.push(
        new cloudwatch.GraphWidget({
          title: name,
          left: [fn.fn.metricInvocations({ period: Duration.minutes(5) }), ...row],
          right: [fn.fn.metricDuration({ period: Duration.minutes(5) })],
          width: 12,
        }),
      );
    }
    widgets.push(
      new cloudwatch.GraphWidget({ title: 'ESM dead-letter queue depth', left: [dlqDepth], width: 12 }),
    );
    new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: `esante-${stage.name}-event-bus`,
      widgets: [widgets],
    });
  }
}
