import { AssetHashType, type CfnResource, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { ManagedKafkaEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ConsumerDefinition } from '../consumers.ts';
import { functionName } from '../names.ts';
import { functionBundler, REPO_ROOT } from './bundle.ts';
import { awsConsumerGroupId } from './kafka-access.ts';

export interface BusFunctionProps {
  name: string;
  /** Handler module relative to the repo root, exporting `handler`. */
  entry: string;
  description: string;
  vpc: ec2.IVpc;
  securityGroup: ec2.ISecurityGroup;
  layer: lambda.ILayerVersion;
  logKey: kms.IKey;
  /** Encrypts the function's environment variables (instead of Lambda's AWS-managed key). */
  environmentKey: kms.IKey;
  logRetentionDays: number;
  retainLogs: boolean;
  environment: Record<string, string>;
  /** @default 30 s */
  timeoutSeconds?: number;
  /** @default 256 MB */
  memoryMb?: number;
  /** Omitted: the function draws on the account's unreserved pool (see StageConfig.reserveConcurrency). */
  reservedConcurrency?: number;
  /** The function's own kafka-cluster / kafka statements (infra/constructs/kafka-access.ts). */
  kafkaStatements: iam.PolicyStatement[];
}

/**
 * Every function the same way (as Powertools' example app wraps NodejsFunction once): Node 24 on arm64,
 * esbuild bundle without shared/ (it comes from the producer layer), private subnets, reserved concurrency,
 * active tracing, its own KMS-encrypted log group with retention, and a role that holds only what the
 * function needs: its log group, ENI management for the VPC and the ESM, X-Ray, its Kafka statements.
 */
export class BusFunction extends Construct {
  readonly fn: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;
  readonly mappings: ManagedKafkaEventSource[] = [];

  constructor(scope: Construct, id: string, props: BusFunctionProps) {
    super(scope, id);
    const stack = Stack.of(this);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetentionDays as logs.RetentionDays,
      encryptionKey: props.logKey,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `esante ${props.name} function`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'OwnLogGroup',
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    // ENIs for the function in the VPC and for the MSK event-source mapping; these EC2 actions do not
    // support resource-level permissions (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-permissions.html).
    this.role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'VpcNetworkInterfaces',
        actions: [
          'ec2:CreateNetworkInterface',
          'ec2:DescribeNetworkInterfaces',
          'ec2:DescribeVpcs',
          'ec2:DeleteNetworkInterface',
          'ec2:DescribeSubnets',
          'ec2:DescribeSecurityGroups',
          'ec2:AssignPrivateIpAddresses',
          'ec2:UnassignPrivateIpAddresses',
        ],
        resources: ['*'],
      }),
    );
    for (const statement of props.kafkaStatements) this.role.addToPolicy(statement);

    this.fn = new lambda.Function(this, 'Function', {
      functionName: functionName(String(stack.node.tryGetContext('stage') ?? 'dev'), props.name),
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      handler: 'index.handler',
      code: lambda.Code.fromAsset(REPO_ROOT, {
        assetHashType: AssetHashType.OUTPUT,
        bundling: {
          image: lambda.Runtime.NODEJS_24_X.bundlingImage,
          local: functionBundler(props.entry),
          // CDK caches bundles by source path and serialisable options (not `local`): the entry keeps each
          // function's bundle its own.
          environment: { BUS_FUNCTION_ENTRY: props.entry },
        },
      }),
      layers: [props.layer],
      vpc: props.vpc,
      vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_ISOLATED },
      securityGroups: [props.securityGroup],
      role: this.role,
      ...(props.reservedConcurrency === undefined
        ? {}
        : { reservedConcurrentExecutions: props.reservedConcurrency }),
      tracing: lambda.Tracing.ACTIVE,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      timeout: Duration.seconds(props.timeoutSeconds ?? 30),
      memorySize: props.memoryMb ?? 256,
      environment: { NODE_OPTIONS: '--enable-source-maps', ...props.environment },
      environmentEncryption: props.environmentKey,
    });
    // lambda.Function makes the function depend on its role and the role's policy; the role is already a
    // dependency through `Role: Fn::GetAtt`, so only the policy is kept (cfn-lint W3005, redundant DependsOn).
    const policy = this.role.node.tryFindChild('DefaultPolicy')?.node.defaultChild as CfnResource | undefined;
    if (policy) (this.fn.node.defaultChild as CfnResource).addOverride('DependsOn', [policy.logicalId]);
  }

  /**
   * One MSK event-source mapping per topic of the consumer (the Lambda API takes one topic per mapping),
   * all with the consumer's settings from infra/consumers.ts and the SQS on-failure destination. Group ids and
   * the poller group carry the stage, so two stages in one account and region share neither.
   */
  consume(
    consumer: ConsumerDefinition,
    clusterArn: string,
    deadLetterQueue: sqs.IQueue,
    stage: string,
  ): void {
    for (const topic of consumer.topics) {
      const source = new ManagedKafkaEventSource({
        clusterArn,
        topic,
        consumerGroupId: awsConsumerGroupId(stage, consumer, topic),
        startingPosition:
          consumer.startingPosition === 'LATEST'
            ? lambda.StartingPosition.LATEST
            : lambda.StartingPosition.TRIM_HORIZON,
        batchSize: consumer.batchSize,
        maxBatchingWindow: Duration.seconds(consumer.maxBatchingWindowSeconds),
        retryAttempts: consumer.retryAttempts,
        maxRecordAge: Duration.seconds(consumer.maxRecordAgeSeconds),
        bisectBatchOnError: consumer.bisectBatchOnError,
        reportBatchItemFailures: consumer.reportBatchItemFailures,
        onFailure: new SqsDlq(deadLetterQueue),
        provisionedPollerConfig: {
          minimumPollers: consumer.pollers.minimum,
          maximumPollers: consumer.pollers.maximum,
          pollerGroupName: `esante-${stage}-${consumer.name}`,
        },
      });
      this.fn.addEventSource(source);
      this.mappings.push(source);
    }
    // ManagedKafkaEventSource attaches AWSLambdaMSKExecutionRole (kafka:DescribeCluster* and ENIs on "*");
    // the role already holds those permissions scoped to this cluster, so the managed policy is removed.
    (this.role.node.defaultChild as iam.CfnRole).addPropertyDeletionOverride('ManagedPolicyArns');
  }

  /** The ESM's consumer lag for this function (AWS/Lambda OffsetLag, the highest across its mappings). */
  offsetLag(): cloudwatch.Metric {
    return this.fn.metric('OffsetLag', { statistic: 'Maximum', period: Duration.minutes(1) });
  }
}
