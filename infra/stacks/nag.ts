import { Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import type { BusFunction } from '../constructs/bus-function.ts';
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

/**
 * Every cdk-nag finding we accept, on the narrowest construct, with the rule id and a specific reason
 * (cdk-nag 3: `Validations.of(construct).acknowledge`, one per finding id).
 */
export const acknowledgeFindings = (stacks: EsanteStacks): void => {
  const functions: BusFunction[] = [...Object.values(stacks.consumers.functions), stacks.consumers.health];
  for (const fn of functions) {
    ack(fn, FUNCTION_ACKS);
    if (fn.mappings.length) ack(fn, CONSUMER_ACKS);
  }
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
  ack(stacks.network.vpc, [
    {
      id: 'HIPAA.Security-IAMNoInlinePolicy',
      reason: "The flow-log role's CDK-generated policy only lets VPC Flow Logs write to its own log group.",
    },
  ]);
};
