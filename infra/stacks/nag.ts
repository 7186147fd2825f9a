import { CfnResource, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { BusFunction } from '../constructs/bus-function.ts';
import { awsConsumerGroupId, topicPatterns } from '../constructs/kafka-access.ts';
import type { EsanteStacks } from './esante-app.ts';

/** One accepted cdk-nag finding: the exact rule (and finding) id and why it is accepted here. */
export interface Acknowledgement {
  id: string;
  reason: string;
}

const ack = (scope: IConstruct, acks: Acknowledgement[]): void => {
  for (const a of acks) Validations.of(scope).acknowledge(a);
};

/** Findings accepted on every function (its role, its policy, the function itself). */
export const FUNCTION_ACKS: Acknowledgement[] = [
  {
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'ec2:CreateNetworkInterface/Describe*/DeleteNetworkInterface (VPC function and MSK ESM) and the X-Ray ' +
      'PutTraceSegments/PutTelemetryRecords actions support no resource-level permissions.',
  },
  {
    id: 'HIPAA.Security-IAMNoInlinePolicy',
    reason:
      "The only inline policy is the function's own role policy holding its scoped statements; it is attached " +
      'to that one role and not shared, so a managed policy would add nothing.',
  },
  {
    id: 'HIPAA.Security-LambdaDLQ',
    reason:
      'Invoked synchronously only (MSK event-source mapping, function URL): an async DLQ never receives ' +
      "anything; failed batches go to the mapping's SQS on-failure destination.",
  },
  {
    id: 'Serverless-LambdaDLQ',
    reason:
      'Invoked synchronously only (MSK event-source mapping, function URL): failed batches go to the ' +
      "mapping's SQS on-failure destination instead.",
  },
];

/** Findings accepted on consumer functions only (those with event-source mappings). */
export const CONSUMER_ACKS: Acknowledgement[] = [
  {
    id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaMSKExecutionRole]',
    reason:
      'ManagedKafkaEventSource attaches this policy; BusFunction deletes it from the role (ManagedPolicyArns ' +
      'override) since the role already holds those permissions scoped to the cluster.',
  },
  {
    id: 'AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
    reason:
      "SqsDlq's grant to send to the KMS-encrypted DLQ: SQS needs GenerateDataKey on the data key only.",
  },
  {
    id: 'AwsSolutions-IAM5[Action::kms:ReEncrypt*]',
    reason: "SqsDlq's grant to send to the KMS-encrypted DLQ, on the data key only.",
  },
];

/** A stage that reserves no concurrency (StageConfig.reserveConcurrency false): every function. */
export const UNRESERVED_ACKS: Acknowledgement[] = [
  {
    id: 'HIPAA.Security-LambdaConcurrency',
    reason:
      'This stage reserves no concurrency so a first deploy fits a new account whose quota may leave nothing ' +
      'to reserve beyond the 100 Lambda keeps unreserved; prod reserves per infra/consumers.ts.',
  },
];

/** Findings accepted on the audit anchor function (scheduled, asynchronous; no Kafka). */
export const ANCHOR_FUNCTION_ACKS: Acknowledgement[] = [
  {
    id: 'HIPAA.Security-LambdaDLQ',
    reason:
      'Invoked by two EventBridge schedules only: a failed run is retried by Lambda, raises the Errors alarm, ' +
      'and is made good by the next run (a digest covers every current chain head, an archive everything ' +
      'since the previous archive), so a dead-letter queue would hold nothing worth replaying.',
  },
  {
    id: 'Serverless-LambdaDLQ',
    reason:
      'Scheduled only: the next scheduled run writes what a failed one would have (every chain head, every ' +
      'slot since the last archive); failures raise the Errors alarm.',
  },
];

/** The schedule rules of the anchor function. */
export const ANCHOR_RULE_ACKS: Acknowledgement[] = [
  {
    id: 'Serverless-EventBusDLQ',
    reason:
      'A schedule event that cannot be delivered is superseded by the next one, which anchors the same and ' +
      'newer state; the function alarms on errors, and a missing digest shows in `npm run audit -- verify`.',
  },
];

/** The anchor function's object grants: its two key prefixes in the locked bucket. */
const anchorPrefixAcks = (stacks: EsanteStacks): Acknowledgement[] => {
  const { consumers } = stacks;
  return ['digests/*', 'archive/*'].map((prefix) => ({
    // The bucket is named, so its ARN renders as a literal (no import): cdk-nag's finding id is that ARN.
    id: `AwsSolutions-IAM5[Resource::${consumers.resolve(consumers.anchorBucket.arnForObjects(prefix))}]`,
    reason:
      'The anchor function writes digests and archives under these two prefixes, each key new (If-None-Match) ' +
      'and only with COMPLIANCE retention (a policy condition); deletes are denied.',
  }));
};

/** The anchor bucket and its access-log bucket. */
export const ANCHOR_BUCKET_ACKS: Acknowledgement[] = [
  {
    id: 'HIPAA.Security-S3BucketReplicationEnabled',
    reason:
      'Cross-region replication of a COMPLIANCE-locked bucket needs a second locked bucket and key in another ' +
      'region, a deployment decision (docs/cdk.md); S3 already keeps each object across three AZs.',
  },
];

export const ANCHOR_LOG_BUCKET_ACKS: Acknowledgement[] = [
  ...ANCHOR_BUCKET_ACKS,
  {
    id: 'HIPAA.Security-S3DefaultEncryptionKMS',
    reason:
      'S3 server access logs are delivered only to a bucket encrypted with S3-managed keys (SSE-S3), not KMS.',
  },
];

const DOMAIN_GRANT_REASON =
  'A whole event domain (`<domain>.*` topics, their `<stage>.<group>.<domain>.*` groups): the function reads ' +
  'every catalog topic of that domain, so the prefix grants no topic it does not read and keeps the policy ' +
  'small as the catalog grows.';

/**
 * The IAM5 findings of a function's domain-wide Kafka grants (kafka-access.ts topicPatterns): one per
 * `<domain>.*` topic ARN and its group ARN, in cdk-nag's rendering (`<export name><pattern>`).
 */
export const domainGrantAcks = (stacks: EsanteStacks, name: string): Acknowledgement[] => {
  const { consumers, bus } = stacks;
  const catalog = consumers.catalog;
  const consumer = consumers.definitions[name];
  const stage = consumers.stageConfig.name;
  const wild = (patterns: string[]) => patterns.filter((p) => p.endsWith('*'));
  if (!consumer) {
    return wild(topicPatterns(catalog, catalog)).map((p) => ({
      id: `AwsSolutions-IAM5[Resource::${bus.exportNames.topic}${p}]`,
      reason: 'The health function describes every topic of the bus, one `<domain>.*` ARN per domain.',
    }));
  }
  return wild(topicPatterns(consumer.topics, catalog)).flatMap((p) => [
    { id: `AwsSolutions-IAM5[Resource::${bus.exportNames.topic}${p}]`, reason: DOMAIN_GRANT_REASON },
    {
      id: `AwsSolutions-IAM5[Resource::${bus.exportNames.group}${awsConsumerGroupId(stage, consumer, p)}]`,
      reason: DOMAIN_GRANT_REASON,
    },
  ]);
};

/** A finding of an outside CloudFormation scanner (cfn-lint, checkov) accepted on a resource. */
export interface ScannerAcknowledgement extends Acknowledgement {
  scanner: 'cfn-lint' | 'checkov';
  /** Which resources carry it. */
  on: string;
}

export const SCANNER_ACKS = {
  eniAndXRay: {
    scanner: 'checkov',
    id: 'CKV_AWS_111',
    on: "each function's role policy",
    reason:
      'The only write actions on "*" are the ENI actions of a VPC function and MSK mapping and X-Ray ' +
      "PutTraceSegments/PutTelemetryRecords: they support no resource-level permissions, and AWS's own managed " +
      'policies (AWSLambdaVPCAccessExecutionRole, AWSXRayDaemonWriteAccess) grant them on "*" the same way.',
  },
  lambdaDlq: {
    scanner: 'checkov',
    id: 'CKV_AWS_116',
    on: "each function and CDK's restrict-default-security-group provider",
    reason:
      'Invoked synchronously only (MSK event-source mapping, function URL, CloudFormation for the provider): an ' +
      "async DLQ never receives anything; failed batches go to the mapping's SQS on-failure destination.",
  },
  lambdaConcurrency: {
    scanner: 'checkov',
    id: 'CKV_AWS_115',
    on: "each function of a stage that reserves no concurrency (dev), and CDK's provider",
    reason:
      'Same as HIPAA.Security-LambdaConcurrency: a new account may have nothing to reserve beyond the 100 Lambda ' +
      'keeps unreserved; prod reserves per infra/consumers.ts. The provider runs once per deployment.',
  },
  anchorDlq: {
    scanner: 'checkov',
    id: 'CKV_AWS_116',
    on: 'the audit anchor function',
    reason:
      'Invoked by two EventBridge schedules only: a failed run raises the Errors alarm and the next run writes ' +
      'what it would have (every chain head; every slot since the last archive), so a DLQ would hold nothing to replay.',
  },
  providerVpc: {
    scanner: 'checkov',
    id: 'CKV_AWS_117',
    on: "CDK's restrict-default-security-group provider",
    reason:
      'CDK-generated; it runs once at deploy time to remove the default security group rules through the EC2 ' +
      'API, and the VPC has no route to that API from inside.',
  },
  hardcodedAzs: {
    scanner: 'cfn-lint',
    id: 'W3010',
    on: 'the VPC subnets',
    reason:
      'The app synthesises offline: cdk.json pins the three AZs of the account and region (as a context lookup ' +
      'would), so the subnet AZs are literal by design.',
  },
  providerDependsOn: {
    scanner: 'cfn-lint',
    id: 'W3005',
    on: "CDK's restrict-default-security-group provider function",
    reason:
      "A CDK-generated custom-resource provider's redundant DependsOn on its own role; harmless, and not ours " +
      'to change (our functions have it removed, BusFunction).',
  },
} as const satisfies Record<string, ScannerAcknowledgement>;

/** Records a scanner acknowledgement in the resource's CloudFormation Metadata, where that scanner reads it. */
const ackScanner = (resource: CfnResource | undefined, a: ScannerAcknowledgement): void => {
  if (!resource) return;
  if (a.scanner === 'checkov') {
    const current = (resource.getMetadata('checkov') as { skip?: unknown[] } | undefined)?.skip ?? [];
    resource.addMetadata('checkov', { skip: [...current, { id: a.id, comment: a.reason }] });
  } else {
    const current =
      (resource.getMetadata('cfn-lint') as { config?: { ignore_checks?: string[] } } | undefined)?.config
        ?.ignore_checks ?? [];
    resource.addMetadata('cfn-lint', { config: { ignore_checks: [...current, a.id] } });
  }
};

const cfnOf = (construct: IConstruct | undefined): CfnResource | undefined => {
  const child = construct?.node.defaultChild ?? construct;
  return child && CfnResource.isCfnResource(child) ? child : undefined;
};

/**
 * Every cdk-nag finding we accept, on the narrowest construct, with the rule id and a specific reason
 * (cdk-nag 3: `Validations.of(construct).acknowledge`, one per finding id).
 */
export const acknowledgeFindings = (stacks: EsanteStacks): void => {
  const functions: BusFunction[] = [...Object.values(stacks.consumers.functions), stacks.consumers.health];
  for (const fn of functions) {
    ack(fn, FUNCTION_ACKS);
    if (fn.mappings.length) ack(fn, CONSUMER_ACKS);
    if (!stacks.consumers.stageConfig.reserveConcurrency) ack(fn, UNRESERVED_ACKS);
    ack(fn, domainGrantAcks(stacks, fn.node.id.replace(/^Fn-/, '')));
  }
  const anchor = stacks.consumers.anchor;
  ack(anchor, [...FUNCTION_ACKS.filter((a) => !a.id.endsWith('LambdaDLQ')), ...ANCHOR_FUNCTION_ACKS]);
  ack(anchor, anchorPrefixAcks(stacks));
  if (!stacks.consumers.stageConfig.reserveConcurrency) ack(anchor, UNRESERVED_ACKS);
  for (const rule of stacks.consumers.anchorRules) ack(rule, ANCHOR_RULE_ACKS);
  ackScanner(cfnOf(anchor.role.node.tryFindChild('DefaultPolicy')), SCANNER_ACKS.eniAndXRay);
  ackScanner(cfnOf(anchor.fn), SCANNER_ACKS.anchorDlq);
  if (!stacks.consumers.stageConfig.reserveConcurrency)
    ackScanner(cfnOf(anchor.fn), SCANNER_ACKS.lambdaConcurrency);
  ack(stacks.data.auditAnchor, ANCHOR_BUCKET_ACKS);
  ack(stacks.data.auditAnchorAccessLogs, ANCHOR_LOG_BUCKET_ACKS);
  ack(stacks.data.deadLetterQueue, [
    { id: 'AwsSolutions-SQS3', reason: 'This queue IS the dead-letter queue (ESM on-failure destination).' },
    {
      id: 'Serverless-SQSRedrivePolicy',
      reason: 'This queue IS the dead-letter queue; its messages are redriven by the runbook, not by SQS.',
    },
  ]);
  ack(stacks.data.backupPlan, [
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup]',
      reason: 'AWS Backup requires its service role policy to snapshot the DynamoDB tables.',
    },
  ]);
  for (const fn of functions) {
    ackScanner(cfnOf(fn.role.node.tryFindChild('DefaultPolicy')), SCANNER_ACKS.eniAndXRay);
    ackScanner(cfnOf(fn.fn), SCANNER_ACKS.lambdaDlq);
    if (!stacks.consumers.stageConfig.reserveConcurrency)
      ackScanner(cfnOf(fn.fn), SCANNER_ACKS.lambdaConcurrency);
  }
  for (const subnet of stacks.network.vpc.isolatedSubnets)
    ackScanner(cfnOf(subnet), SCANNER_ACKS.hardcodedAzs);
  const provider = Stack.of(stacks.network).node.tryFindChild(
    'Custom::VpcRestrictDefaultSGCustomResourceProvider',
  );
  const handler = cfnOf(provider?.node.tryFindChild('Handler'));
  for (const a of ['providerDependsOn', 'lambdaDlq', 'lambdaConcurrency', 'providerVpc'] as const)
    ackScanner(handler, SCANNER_ACKS[a]);
  ack(stacks.network.vpc, [
    {
      id: 'HIPAA.Security-IAMNoInlinePolicy',
      reason: "The flow-log role's CDK-generated policy only lets VPC Flow Logs write to its own log group.",
    },
  ]);
};
