import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Schedule } from 'aws-cdk-lib/aws-events';
import { Queue } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks, HIPAASecurityChecks, ServerlessChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { cfnLint, ensureCfnLint } from '../../infra/cfn-lint.ts';
import { awsConsumerGroupId, domainOf, mskKafkaVersion } from '../../infra/constructs/kafka-access.ts';
import { CONSUMERS, type ConsumerDefinition } from '../../infra/consumers.ts';
import { KAFKA_VERSION } from '../../infra/local/kafka/broker.ts';
import { functionName } from '../../infra/names.ts';
import { AUDIT_ANCHOR, DEAD_LETTER_QUEUE, EMAIL, TABLES } from '../../infra/resources.ts';
import { TABLE_ACTIONS } from '../../infra/stacks/consumers-stack.ts';
import { buildApp } from '../../infra/stacks/esante-app.ts';
import { TOPIC_CREATE_CONCURRENCY } from '../../infra/stacks/event-bus-stack.ts';
import {
  ANCHOR_FUNCTION_ACKS,
  ANCHOR_LOG_BUCKET_ACKS,
  ANCHOR_RULE_ACKS,
  acknowledgeFindings,
  CONSUMER_ACKS,
  FUNCTION_ACKS,
  SCANNER_ACKS,
  UNRESERVED_ACKS,
} from '../../infra/stacks/nag.ts';
import { DLQ_DEFINITION, DLQ_TOPIC, topicSpecs } from '../../shared/events/index.ts';

/** A synthesized template's resource properties: untyped JSON, read field by field below. */
// biome-ignore lint/suspicious/noExplicitAny: CloudFormation JSON has no types to narrow to
type CfnProperties = Record<string, any>;

// Prepare (once per file): the app exactly as cdk.json configures it, synthesised with real esbuild bundling.
const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8'));
const outdir = mkdtempSync(join(tmpdir(), 'esante-cdk-'));
// cdk.json's pathMetadata/versionReporting: false, as the CLI passes them.
const app = new App({ context: cdkJson.context, outdir, analyticsReporting: cdkJson.versionReporting });
const stacks = buildApp(app);
acknowledgeFindings(stacks);
const assembly = app.synth();
const templates = {
  network: Template.fromStack(stacks.network),
  bus: Template.fromStack(stacks.bus),
  data: Template.fromStack(stacks.data),
  consumers: Template.fromStack(stacks.consumers),
};
const allResources = Object.values(templates).flatMap((t) =>
  Object.entries(
    t.toJSON().Resources as Record<string, { Type: string; Properties?: Record<string, unknown> }>,
  ),
);
const consumers = CONSUMERS as readonly ConsumerDefinition[];

afterAll(() => rmSync(outdir, { recursive: true, force: true }));

/** Renders a CloudFormation value with imports as `<import:name>` and other intrinsics as `<token>`. */
const flatten = (value: unknown): string => {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && 'Fn::Join' in value) {
    const [sep, parts] = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
    return parts.map(flatten).join(sep);
  }
  if (value && typeof value === 'object' && 'Fn::ImportValue' in value) {
    return `<import:${String((value as { 'Fn::ImportValue': unknown })['Fn::ImportValue'])}>`;
  }
  return '<token>';
};

describe('event bus (MSK)', () => {
  it('runs the local broker major.minor with IAM-only auth, TLS both ways and the CMK at rest', () => {
    // Act
    const clusters = templates.bus.findResources('AWS::MSK::Cluster');
    const [cluster] = Object.values(clusters) as { Properties: CfnProperties }[];
    const [keyId] = Object.keys(templates.bus.findResources('AWS::KMS::Key'));
    // Assess
    expect(Object.keys(clusters)).toHaveLength(1);
    expect(cluster?.Properties.KafkaVersion).toBe(mskKafkaVersion(KAFKA_VERSION));
    expect(KAFKA_VERSION.startsWith(cluster?.Properties.KafkaVersion.split('.x')[0])).toBe(true);
    expect(cluster?.Properties.ClientAuthentication).toEqual({
      Sasl: { Iam: { Enabled: true }, Scram: { Enabled: false } },
      Tls: { Enabled: false },
      Unauthenticated: { Enabled: false },
    });
    expect(cluster?.Properties.EncryptionInfo).toEqual({
      EncryptionAtRest: { DataVolumeKMSKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } },
      EncryptionInTransit: { ClientBroker: 'TLS', InCluster: true },
    });
    expect(cluster?.Properties.BrokerNodeGroupInfo.ConnectivityInfo).toEqual({
      PublicAccess: { Type: 'DISABLED' },
    });
    expect(cluster?.Properties.BrokerNodeGroupInfo.ClientSubnets).toHaveLength(3);
    expect(cluster?.Properties.LoggingInfo.BrokerLogs.CloudWatchLogs.Enabled).toBe(true);
    templates.bus.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
    templates.bus.hasResourceProperties('AWS::Logs::LogGroup', {
      KmsKeyId: Match.anyValue(),
      RetentionInDays: Match.anyValue(),
    });
  });

  it('configures brokers without implicit topics or unclean leader election', () => {
    // Act
    const [config] = Object.values(templates.bus.findResources('AWS::MSK::Configuration')) as {
      Properties: { ServerProperties: string };
    }[];
    const props = Object.fromEntries(
      (config?.Properties.ServerProperties ?? '').split('\n').map((l) => l.split('=') as [string, string]),
    );
    // Assess
    expect(props).toMatchObject({
      'auto.create.topics.enable': 'false',
      'default.replication.factor': '3',
      'min.insync.replicas': '2',
      'unclean.leader.election.enable': 'false',
    });
  });

  it('scales broker storage automatically', () => {
    templates.bus.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', {
      ServiceNamespace: 'kafka',
      ScalableDimension: 'kafka:broker-storage:VolumeSize',
    });
    templates.bus.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({
        PredefinedMetricSpecification: { PredefinedMetricType: 'KafkaBrokerStorageUtilization' },
      }),
    });
  });

  it('creates every catalog topic and the DLQ with their partitions, RF 3 and retention', () => {
    // Act
    const topics = Object.values(templates.bus.findResources('AWS::MSK::Topic')) as {
      Properties: { TopicName: string; PartitionCount: number; ReplicationFactor: number; Configs: string };
    }[];
    // Assess
    expect(topics).toHaveLength(topicSpecs().length);
    for (const spec of topicSpecs()) {
      const topic = topics.find((t) => t.Properties.TopicName === spec.topic);
      expect(topic, spec.topic).toBeDefined();
      expect(topic?.Properties.PartitionCount).toBe(spec.partitions);
      expect(topic?.Properties.ReplicationFactor).toBe(3);
      const configs = JSON.parse(Buffer.from(topic?.Properties.Configs ?? '', 'base64').toString());
      expect(configs['retention.ms']).toBe(String(spec.retentionMs));
      if (spec.topic === DLQ_TOPIC)
        expect(configs['max.message.bytes']).toBe(String(DLQ_DEFINITION.maxMessageBytes));
    }
  });
});

describe('network', () => {
  it('spans 3 AZs with private subnets, no NAT gateway and the endpoints the functions need', () => {
    templates.network.resourceCountIs('AWS::EC2::Subnet', 3);
    templates.network.resourceCountIs('AWS::EC2::NatGateway', 0);
    templates.network.resourceCountIs('AWS::EC2::InternetGateway', 0);
    const services = Object.values(templates.network.findResources('AWS::EC2::VPCEndpoint')).map((e) =>
      flatten((e as { Properties: { ServiceName: unknown } }).Properties.ServiceName)
        .split('.')
        .pop(),
    );
    expect(services.sort()).toEqual(['dynamodb', 'email', 'kafka', 'kms', 's3', 'sqs', 'sts', 'xray']);
  });

  it('has no security group that admits 0.0.0.0/0 or ::/0', () => {
    const ingress = allResources.flatMap(([, r]) =>
      r.Type === 'AWS::EC2::SecurityGroup'
        ? ((r.Properties?.SecurityGroupIngress as Record<string, unknown>[] | undefined) ?? [])
        : r.Type === 'AWS::EC2::SecurityGroupIngress'
          ? [r.Properties ?? {}]
          : [],
    );
    expect(ingress.length).toBeGreaterThan(0);
    for (const rule of ingress) {
      expect(rule.CidrIp).not.toBe('0.0.0.0/0');
      expect(rule.CidrIpv6).not.toBe('::/0');
    }
  });
});

describe('data', () => {
  it('creates every table of resources.ts with PITR and the CMK', () => {
    templates.data.resourceCountIs('AWS::DynamoDB::Table', Object.keys(TABLES).length);
    for (const def of Object.values(TABLES)) {
      templates.data.hasResourceProperties('AWS::DynamoDB::Table', {
        TableName: `dev-${def.name}`,
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        // dev can be destroyed and deployed again; prod's tables are protected and retained (stages.test.ts).
        DeletionProtectionEnabled: false,
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
      });
    }
  });

  it('keeps the ESM dead-letter queue encrypted, TLS-only, for 14 days, with a depth alarm', () => {
    templates.data.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: `dev-${DEAD_LETTER_QUEUE.name}`,
      KmsMasterKeyId: Match.anyValue(),
      MessageRetentionPeriod: 14 * 86_400,
    });
    templates.data.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: Match.objectLike({
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      }),
    });
    templates.consumers.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      AlarmActions: Match.anyValue(),
    });
  });
});

describe('consumer functions', () => {
  const mappings = Object.values(templates.consumers.findResources('AWS::Lambda::EventSourceMapping')) as {
    Properties: CfnProperties;
  }[];

  it('maps every consumer topic with the settings of consumers.ts and the SQS DLQ on failure', () => {
    // Assess
    expect(mappings).toHaveLength(consumers.reduce((n, c) => n + c.topics.length, 0));
    for (const consumer of consumers) {
      for (const topic of consumer.topics) {
        const mapping = mappings.find(
          (m) =>
            m.Properties.Topics?.[0] === topic &&
            m.Properties.AmazonManagedKafkaEventSourceConfig?.ConsumerGroupId ===
              awsConsumerGroupId('dev', consumer, topic),
        );
        expect(mapping, `${consumer.name} ${topic}`).toBeDefined();
        expect(mapping?.Properties).toMatchObject({
          BatchSize: consumer.batchSize,
          MaximumBatchingWindowInSeconds: consumer.maxBatchingWindowSeconds,
          MaximumRetryAttempts: consumer.retryAttempts,
          MaximumRecordAgeInSeconds: consumer.maxRecordAgeSeconds,
          BisectBatchOnFunctionError: consumer.bisectBatchOnError,
          StartingPosition: consumer.startingPosition,
          FunctionResponseTypes: consumer.reportBatchItemFailures ? ['ReportBatchItemFailures'] : undefined,
          ProvisionedPollerConfig: {
            MinimumPollers: consumer.pollers.minimum,
            MaximumPollers: consumer.pollers.maximum,
            PollerGroupName: `esante-dev-${consumer.name}`,
          },
        });
        expect(JSON.stringify(mapping?.Properties.DestinationConfig.OnFailure.Destination)).toMatch(
          /EsmDeadLetterQueue/,
        );
      }
    }
  });

  it('gives each consumer group id to exactly one mapping', () => {
    const groups = mappings.map((m) => m.Properties.AmazonManagedKafkaEventSourceConfig.ConsumerGroupId);
    expect(new Set(groups).size).toBe(groups.length);
  });

  it('runs every function on Node 24 arm64 in the VPC with the layer, tracing, an encrypted environment and its log group', () => {
    const fns = Object.values(templates.consumers.findResources('AWS::Lambda::Function')) as {
      Properties: CfnProperties;
    }[];
    // The consumers, the health function and the audit anchor function.
    expect(fns).toHaveLength(consumers.length + 2);
    for (const fn of fns) {
      expect(fn.Properties).toMatchObject({
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        Handler: 'index.handler',
      });
      // dev reserves no concurrency (a new account may have none to reserve); prod does (stages.test.ts).
      expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
      expect(JSON.stringify(fn.Properties.KmsKeyArn)).toMatch(/DataKey/);
      expect(fn.Properties.VpcConfig.SubnetIds).toHaveLength(3);
      expect(fn.Properties.Layers).toHaveLength(1);
      expect(fn.Properties.LoggingConfig.LogGroup).toBeDefined();
      // Every function but the anchor (which reads the audit table and writes S3 only) talks to Kafka.
      if (fn.Properties.FunctionName === functionName(String(cdkJson.context.stage), 'audit-anchor'))
        continue;
      expect(fn.Properties.Environment.Variables).toMatchObject({
        KAFKA_AUTH: 'iam',
        MSK_CLUSTER_ARN: expect.anything(),
      });
    }
    templates.consumers.hasResourceProperties('AWS::Lambda::LayerVersion', {
      CompatibleRuntimes: ['nodejs24.x'],
      CompatibleArchitectures: ['arm64'],
    });
  });

  it("gives each consumer a Kafka delivery timeout that lets every in-function attempt end inside the function's timeout", () => {
    const fns = Object.values(templates.consumers.findResources('AWS::Lambda::Function')) as {
      Properties: {
        FunctionName: string;
        Timeout: number;
        Environment: { Variables: Record<string, string> };
      };
    }[];
    const stage = String(cdkJson.context.stage);
    for (const consumer of consumers) {
      const fn = fns.find((f) => f.Properties.FunctionName === functionName(stage, consumer.name));
      const deliveryMs = Number(fn?.Properties.Environment.Variables.KAFKA_DELIVERY_TIMEOUT_MS);
      const { attempts, maxDelayMs } = consumer.recordRetry;
      // Each attempt may wait the whole delivery timeout, with a back-off between attempts.
      expect(deliveryMs).toBeGreaterThanOrEqual(1_000);
      expect(attempts * deliveryMs + (attempts - 1) * maxDelayMs).toBeLessThan(
        (fn?.Properties.Timeout ?? 0) * 1_000,
      );
    }
  });

  it('names every function functionName(stage, name), as npm run dlq reads it back', () => {
    const names = Object.values(templates.consumers.findResources('AWS::Lambda::Function')).map(
      (fn) => (fn as { Properties: { FunctionName: string } }).Properties.FunctionName,
    );
    const stage = String(cdkJson.context.stage);
    expect(names.sort()).toEqual(
      [...consumers.map((c) => c.name), 'health', 'audit-anchor'].map((n) => functionName(stage, n)).sort(),
    );
    templates.consumers.hasResourceProperties('AWS::Lambda::Function', {
      FunctionName: functionName(stage, 'notification'),
      Environment: { Variables: Match.objectLike({ [EMAIL.configurationSetEnv]: Match.anyValue() }) },
    });
  });

  it('serves the health function behind an IAM-authenticated URL', () => {
    templates.consumers.resourceCountIs('AWS::Lambda::Url', 1);
    templates.consumers.hasResourceProperties('AWS::Lambda::Url', { AuthType: 'AWS_IAM' });
  });

  it('alarms on offset lag, errors and throttles of each function and draws a dashboard', () => {
    const alarms = Object.values(templates.consumers.findResources('AWS::CloudWatch::Alarm')).map(
      (a) => (a as { Properties: { MetricName: string } }).Properties.MetricName,
    );
    expect(alarms.filter((m) => m === 'OffsetLag')).toHaveLength(consumers.length);
    expect(alarms.filter((m) => m === 'Errors')).toHaveLength(consumers.length + 2);
    expect(alarms.filter((m) => m === 'Throttles')).toHaveLength(consumers.length + 2);
    templates.consumers.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('bundles functions without shared/, importing it from the layer', () => {
    const dir = assembly.directory;
    const bundles = readdirSync(dir)
      .filter((d) => d.startsWith('asset.'))
      .map((d) => join(dir, d, 'index.mjs'))
      .filter((f) => {
        try {
          readFileSync(f);
          return true;
        } catch {
          return false;
        }
      });
    expect(bundles.length).toBeGreaterThanOrEqual(consumers.length);
    for (const file of bundles) {
      const code = readFileSync(file, 'utf8');
      // shared/ definitions (the topic table, the catalog, the Kafka client) are not in the bundle.
      expect(code).not.toMatch(/\b(TOPICS|CATALOG) = /);
      expect(code).not.toContain('kafkajs');
      if (!code.includes('placeholder')) expect(code).toContain('/opt/nodejs/node_modules/@esante/bus/');
    }
  });
});

describe('least privilege', () => {
  const policies = Object.entries({
    ...templates.consumers.findResources('AWS::IAM::Policy'),
    ...templates.consumers.findResources('AWS::IAM::ManagedPolicy'),
  }) as [
    string,
    { Properties: { PolicyDocument: { Statement: { Action: string | string[]; Resource: unknown }[] } } },
  ][];
  const statements = policies.flatMap(([id, p]) =>
    p.Properties.PolicyDocument.Statement.map((s) => ({ id, ...s })),
  );
  const actionsOf = (s: { Action: string | string[] }) => [s.Action].flat();

  it('never grants kafka-cluster:* or kafka:*', () => {
    const actions = allResources
      .filter(([, r]) => r.Type === 'AWS::IAM::Policy' || r.Type === 'AWS::IAM::ManagedPolicy')
      .flatMap(
        ([, r]) =>
          (r.Properties?.PolicyDocument as { Statement: { Action: string | string[] }[] } | undefined)
            ?.Statement ?? [],
      )
      .flatMap(actionsOf);
    expect(actions).not.toContain('kafka-cluster:*');
    expect(actions).not.toContain('kafka:*');
    expect(actions.some((a) => a.startsWith('kafka-cluster:'))).toBe(true);
  });

  it("scopes each function's topic and group grants to its own topics and groups, WriteData to what it publishes", () => {
    const catalog = topicSpecs().map((t) => t.topic);
    /** The names a read grant may carry: each topic read, or `<domain>.*` when every topic of it is read. */
    const readable = (consumer: ConsumerDefinition) => {
      const domains = new Set(consumer.topics.map(domainOf));
      const whole = [...domains].filter((d) =>
        catalog.filter((t) => domainOf(t) === d).every((t) => (consumer.topics as string[]).includes(t)),
      );
      return [...consumer.topics, ...whole.map((d) => `${d}.*`)];
    };
    let prefixGrants = 0;
    for (const consumer of consumers) {
      const own = statements.filter((s) => s.id.includes(`Fn${consumer.name.replaceAll('-', '')}`));
      expect(own.length, consumer.name).toBeGreaterThan(0);
      for (const s of own.filter((x) => actionsOf(x).some((a) => a.startsWith('kafka-cluster:')))) {
        for (const resource of [s.Resource].flat().map(flatten)) {
          const [, kind, name = ''] = /^<import:[^>]*(Topic|Group)ArnPrefix>(.+)$/.exec(resource) ?? [];
          if (!kind) {
            expect(resource, `${consumer.name}: only the cluster ARN is not a topic or group`).not.toContain(
              '*',
            );
            continue;
          }
          expect(name).not.toBe('*');
          if (name.endsWith('*')) prefixGrants++;
          if (kind === 'Topic') {
            const allowed = actionsOf(s).includes('kafka-cluster:WriteData')
              ? [...consumer.publishes, DLQ_TOPIC]
              : readable(consumer);
            expect(allowed, `${consumer.name} ${resource}`).toContain(name);
          } else {
            expect(
              readable(consumer).map((t) => awsConsumerGroupId('dev', consumer, t)),
              `${consumer.name} ${resource}`,
            ).toContain(name);
          }
        }
      }
    }
    // The audit function reads whole domains: they are granted by prefix, not topic by topic.
    expect(prefixGrants).toBeGreaterThan(0);
  });

  it('lets the audit function only append to and read the audit table', () => {
    // Act
    const audit = statements.filter(
      (s) => /Fnaudit(?!anchor)/.test(s.id) && actionsOf(s).some((a) => a.startsWith('dynamodb:')),
    );
    // Assess
    expect(audit.length).toBeGreaterThan(0);
    const actions = audit.flatMap(actionsOf);
    expect(new Set(actions)).toEqual(new Set(TABLE_ACTIONS['append-only']));
    for (const forbidden of [
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:BatchWriteItem',
      'dynamodb:*',
    ])
      expect(actions).not.toContain(forbidden);
    // The other writers keep read-write access to their own tables.
    const notification = statements.filter((s) => s.id.includes('Fnnotification')).flatMap(actionsOf);
    expect(notification).toContain('dynamodb:UpdateItem');
  });
});

describe("scale and deploy-time checks (today's catalog)", () => {
  it("keeps the consumers template well under CloudFormation's 1 MB", () => {
    // Act
    const bytes = readFileSync(
      join(assembly.directory, `${stacks.consumers.stackName}.template.json`),
    ).length;
    // Assess
    console.log(
      `consumers template: ${(bytes / 1024).toFixed(1)} KB (limit 150 KB here, 1 MB in CloudFormation)`,
    );
    expect(bytes).toBeLessThanOrEqual(150 * 1024);
  });

  it(`creates topics in dependency chains, at most ${TOPIC_CREATE_CONCURRENCY} at a time`, () => {
    // Act
    const topics = templates.bus.findResources('AWS::MSK::Topic') as Record<string, { DependsOn?: string[] }>;
    const ids = Object.keys(topics);
    const roots = ids.filter((id) => !topics[id]?.DependsOn?.some((d) => ids.includes(d)));
    // Assess
    expect(roots).toHaveLength(TOPIC_CREATE_CONCURRENCY);
    for (const id of ids)
      expect((topics[id]?.DependsOn ?? []).filter((d) => ids.includes(d)).length).toBeLessThanOrEqual(1);
  });

  it('creates the SES sender identity with the configuration set', () => {
    templates.data.hasResourceProperties('AWS::SES::EmailIdentity', {
      EmailIdentity: { Ref: Match.stringLikeRegexp('EmailIdentity') },
      ConfigurationSetAttributes: { ConfigurationSetName: Match.anyValue() },
    });
  });

  it("alarms on each consumer's dead-letter rate and on the on-failure queue's depth", () => {
    // Act
    const alarms = Object.values(templates.consumers.findResources('AWS::CloudWatch::Alarm')) as {
      Properties: { Metrics?: unknown; MetricName?: string; AlarmActions?: unknown[]; Threshold?: number };
    }[];
    const rates = alarms.filter((a) =>
      JSON.stringify(a.Properties.Metrics ?? []).includes('"MetricName":"RecordsDeadLettered"'),
    );
    // Assess
    expect(rates).toHaveLength(consumers.length);
    for (const consumer of consumers) {
      const alarm = rates.find((a) =>
        JSON.stringify(a.Properties.Metrics).includes(`"Value":"${consumer.name}"`),
      );
      expect(alarm, consumer.name).toBeDefined();
      expect(alarm?.Properties.AlarmActions).toHaveLength(1);
    }
    const depth = alarms.filter((a) => a.Properties.MetricName === 'ApproximateNumberOfMessagesVisible');
    expect(depth).toHaveLength(1);
    expect(depth[0]?.Properties.Threshold).toBe(1);
  });
});

interface PolicyStatementJson {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Condition?: unknown;
}

describe('audit anchor', () => {
  const buckets = templates.data.findResources('AWS::S3::Bucket') as Record<
    string,
    { Properties: Record<string, unknown> }
  >;
  const anchor = Object.entries(buckets).find(([id]) => id.startsWith('AuditAnchor') && !id.includes('Logs'));
  const [logsId] = Object.keys(buckets).filter((id) => id.startsWith('AuditAnchorAccessLogs'));

  it('keeps digests in a bucket with Object Lock in compliance mode, under the CMK, logged and never public', () => {
    const props = anchor?.[1].Properties as {
      ObjectLockEnabled: boolean;
      ObjectLockConfiguration: unknown;
      VersioningConfiguration: unknown;
      BucketEncryption: { ServerSideEncryptionConfiguration: { ServerSideEncryptionByDefault: unknown }[] };
      PublicAccessBlockConfiguration: unknown;
      LoggingConfiguration: unknown;
    };
    expect(props.ObjectLockEnabled).toBe(true);
    expect(props.ObjectLockConfiguration).toEqual({
      ObjectLockEnabled: 'Enabled',
      Rule: {
        DefaultRetention: { Mode: 'COMPLIANCE', Days: stacks.consumers.stageConfig.auditRetentionDays },
      },
    });
    expect(props.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(
      props.BucketEncryption.ServerSideEncryptionConfiguration[0]?.ServerSideEncryptionByDefault,
    ).toMatchObject({
      SSEAlgorithm: 'aws:kms',
      KMSMasterKeyID: { 'Fn::GetAtt': [expect.stringMatching(/^DataKey/), 'Arn'] },
    });
    expect(props.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(props.LoggingConfiguration).toMatchObject({ DestinationBucketName: { Ref: logsId } });
    const policy = JSON.stringify(templates.data.findResources('AWS::S3::BucketPolicy'));
    expect(policy).toContain('"aws:SecureTransport":"false"');
    expect(policy).toContain('s3:DeleteObjectVersion');
  });

  it('lets the anchor function write only COMPLIANCE-locked objects and never delete or unlock', () => {
    const statements = Object.entries(templates.consumers.findResources('AWS::IAM::Policy'))
      .filter(([id]) => id.startsWith('Fnauditanchor'))
      .flatMap(
        ([, p]) =>
          (p as { Properties: { PolicyDocument: { Statement: PolicyStatementJson[] } } }).Properties
            .PolicyDocument.Statement,
      );
    const allowed = statements.filter((s) => s.Effect === 'Allow').flatMap((s) => [s.Action].flat());
    const write = statements.find((s) => s.Sid === 'WriteLockedAnchor');
    const deny = statements.find((s) => s.Effect === 'Deny');
    // Assess
    for (const forbidden of [
      's3:DeleteObject',
      's3:DeleteObjectVersion',
      's3:BypassGovernanceRetention',
      's3:*',
    ])
      expect(allowed).not.toContain(forbidden);
    expect(allowed.filter((a: string) => a.startsWith('dynamodb:')).sort()).toEqual([
      'dynamodb:Query',
      'dynamodb:Scan',
    ]);
    expect(write?.Condition).toEqual({
      StringEquals: { 's3:object-lock-mode': 'COMPLIANCE' },
      NumericGreaterThanEquals: {
        's3:object-lock-remaining-retention-days': String(
          stacks.consumers.stageConfig.auditRetentionDays - 1,
        ),
      },
    });
    expect(deny?.Action).toEqual(
      expect.arrayContaining(['s3:DeleteObject', 's3:DeleteObjectVersion', 's3:BypassGovernanceRetention']),
    );
  });

  it('runs the digest hourly and the archive daily on EventBridge schedules', () => {
    const rules = Object.values(templates.consumers.findResources('AWS::Events::Rule')) as {
      Properties: { ScheduleExpression: string; Targets: { Input: string }[] };
    }[];
    const schedules = rules.map((r) => [
      r.Properties.ScheduleExpression,
      JSON.parse(r.Properties.Targets[0]?.Input ?? '{}').task,
    ]);
    expect(schedules.sort()).toEqual([
      [Schedule.rate(Duration.hours(AUDIT_ANCHOR.archiveEveryHours)).expressionString, 'archive'],
      [Schedule.rate(Duration.minutes(AUDIT_ANCHOR.digestEveryMinutes)).expressionString, 'digest'],
    ]);
  });

  it('never expires audit entries: the audit table has no TTL, and keeps PITR', () => {
    const tables = Object.values(templates.data.findResources('AWS::DynamoDB::Table')) as {
      Properties: Record<string, unknown>;
    }[];
    const audit = tables.find((t) => String(t.Properties.TableName).endsWith(TABLES.audit.name));
    expect(audit?.Properties.TimeToLiveSpecification).toBeUndefined();
    expect('ttlAttribute' in TABLES.audit).toBe(false);
    expect(audit?.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });
});

describe('cdk-nag (AwsSolutions, HIPAA.Security, Serverless)', () => {
  it('reports no unacknowledged finding', () => {
    // Act: cdk-nag 3 packs are validation plugins; validateScope runs them on the synthesised tree.
    const reports = [new AwsSolutionsChecks(), new HIPAASecurityChecks(), new ServerlessChecks()].map((p) =>
      p.validateScope(app),
    );
    // Assess
    const findings = reports.flatMap((r) =>
      r.violations.map(
        (v) => `${v.ruleName}: ${v.violatingResources.map((x) => x.resourceLogicalId).join(', ')}`,
      ),
    );
    expect(findings).toEqual([]);
  });

  it('names a rule and a specific reason in every acknowledgement', () => {
    for (const a of [
      ...FUNCTION_ACKS,
      ...CONSUMER_ACKS,
      ...UNRESERVED_ACKS,
      ...ANCHOR_FUNCTION_ACKS,
      ...ANCHOR_RULE_ACKS,
      ...ANCHOR_LOG_BUCKET_ACKS,
    ]) {
      expect(a.id).toMatch(/^(AwsSolutions|HIPAA\.Security|Serverless)-[A-Za-z0-9]+/);
      expect(a.reason.length).toBeGreaterThan(40);
    }
  });

  it('still reports a finding nobody acknowledged', () => {
    // Prepare: a stack with one non-compliant resource in a fresh app.
    const probe = new App();
    const stack = new Stack(probe, 'Probe');
    new Queue(stack, 'Queue');
    // Act
    const report = new AwsSolutionsChecks().validateScope(probe);
    // Assess
    expect(report.violations.map((v) => v.ruleName)).toContain('AwsSolutions-SQS4');
  });
});

describe('outside scanners', () => {
  it('passes cfn-lint over the synthesised templates', { timeout: 300_000 }, (ctx) => {
    // Prepare: cfn-lint in a virtualenv under node_modules/.cache (installed on first use, ~30 s).
    const { bin, reason } = ensureCfnLint();
    if (!bin) ctx.skip(`cfn-lint unavailable: ${reason}`);
    // Act
    const { status, output } = cfnLint(bin as string, assembly.directory);
    // Assess
    expect(output).toBe('');
    expect(status).toBe(0);
  });

  it('records each scanner acknowledgement on its resources, and docs/cdk.md lists every acknowledgement', () => {
    // Act
    const all = Object.values(templates).flatMap((t) => Object.values(t.toJSON().Resources as object));
    const metadata = JSON.stringify(all.map((r) => (r as { Metadata?: unknown }).Metadata ?? {}));
    const docs = readFileSync(new URL('../../docs/cdk.md', import.meta.url), 'utf8');
    // Assess
    for (const a of Object.values(SCANNER_ACKS)) {
      expect(metadata, a.id).toContain(`"${a.id}"`);
      expect(docs, a.id).toContain(a.id);
    }
    for (const a of [
      ...FUNCTION_ACKS,
      ...CONSUMER_ACKS,
      ...UNRESERVED_ACKS,
      ...ANCHOR_FUNCTION_ACKS,
      ...ANCHOR_RULE_ACKS,
      ...ANCHOR_LOG_BUCKET_ACKS,
    ]) {
      expect(docs, a.id).toContain(a.id.replace(/\[.*$/, ''));
    }
  });
});
