import { CfnOutput, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as msk from 'aws-cdk-lib/aws-msk';
import type { Construct } from 'constructs';
import {
  REPLICATION_FACTOR,
  type TopicSpec,
  topicConfigStrings,
  topicSpecs,
} from '../../shared/events/index.ts';
import { MSK_SERVER_PROPERTIES } from '../broker-config.ts';
import { type KafkaArns, kafkaArnPrefixes, mskKafkaVersion } from '../constructs/kafka-access.ts';
import { stageClusterName } from '../names.ts';
import { VERSIONS } from '../versions.ts';
import type { StageConfig } from './stage.ts';

export interface EventBusStackProps extends StackProps {
  stage: StageConfig;
  vpc: ec2.IVpc;
  brokerSecurityGroup: ec2.ISecurityGroup;
  /** The topics to create (default: topicSpecs(), the catalog and the DLQ); the scale test passes more. */
  topics?: readonly TopicSpec[];
}

export type { TopicSpec };

/**
 * Topics created at once: AWS::MSK::Topic goes through an eventually consistent topic API right after the
 * cluster; one throttled create would roll back the whole stack (a 30-minute cluster), so topics are created
 * in chains of dependencies, at most this many in flight.
 */
export const TOPIC_CREATE_CONCURRENCY = 5;

/** Broker settings every topic relies on: no implicit topics, RF 3, acks=all durable with one broker down. */
export const SERVER_PROPERTIES = MSK_SERVER_PROPERTIES;

export const TOPIC_REPLICATION_FACTOR = REPLICATION_FACTOR;

/** AWS::MSK::Topic `Configs`: the topic configuration as Base64-encoded JSON. */
export const topicConfigs = (spec: Pick<TopicSpec, 'configs'>): string =>
  Buffer.from(JSON.stringify(topicConfigStrings(spec))).toString('base64');

/**
 * The event bus: a provisioned MSK cluster running the local broker's Kafka major.minor, IAM client
 * authentication only, TLS client-to-broker and between brokers, encryption at rest with a customer-managed
 * key, broker logs to an encrypted log group, and every catalog topic (plus esante.dlq) as AWS::MSK::Topic.
 */
export class EventBusStack extends Stack {
  readonly cluster: msk.CfnCluster;
  readonly clusterArn: string;
  readonly clusterName: string;
  readonly topics: msk.CfnTopic[] = [];
  /** Export names of the topic and group ARN prefixes. */
  readonly exportNames: Record<'topic' | 'group', string>;

  constructor(scope: Construct, id: string, props: EventBusStackProps) {
    super(scope, id, props);
    const { stage } = props;
    const removalPolicy = stage.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const kafkaVersion = mskKafkaVersion(VERSIONS.kafka);
    this.clusterName = stageClusterName(stage.name);

    const key = new kms.Key(this, 'BusKey', {
      description: 'esante MSK data at rest and broker logs',
      enableKeyRotation: true,
      removalPolicy,
    });
    key.grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${this.region}.amazonaws.com`));

    const brokerLogs = new logs.LogGroup(this, 'BrokerLogs', {
      logGroupName: `/esante/${stage.name}/msk/broker`,
      retention: stage.logRetentionDays as logs.RetentionDays,
      encryptionKey: key,
      removalPolicy,
    });

    const securityGroup = props.brokerSecurityGroup;

    const configuration = new msk.CfnConfiguration(this, 'Configuration', {
      name: `esante-${stage.name}-kafka-${kafkaVersion.replaceAll('.', '-')}`,
      kafkaVersionsList: [kafkaVersion],
      serverProperties: Object.entries(SERVER_PROPERTIES)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n'),
    });

    const subnets = props.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_ISOLATED });
    this.cluster = new msk.CfnCluster(this, 'Cluster', {
      clusterName: this.clusterName,
      kafkaVersion,
      numberOfBrokerNodes: stage.brokerNodes,
      brokerNodeGroupInfo: {
        instanceType: stage.brokerInstanceType,
        clientSubnets: subnets.subnetIds,
        securityGroups: [securityGroup.securityGroupId],
        storageInfo: { ebsStorageInfo: { volumeSize: stage.brokerVolumeGiB } },
        connectivityInfo: { publicAccess: { type: 'DISABLED' } },
      },
      clientAuthentication: {
        sasl: { iam: { enabled: true }, scram: { enabled: false } },
        tls: { enabled: false },
        unauthenticated: { enabled: false },
      },
      encryptionInfo: {
        encryptionAtRest: { dataVolumeKmsKeyId: key.keyArn },
        encryptionInTransit: { clientBroker: 'TLS', inCluster: true },
      },
      configurationInfo: { arn: configuration.attrArn, revision: configuration.attrLatestRevisionRevision },
      loggingInfo: { brokerLogs: { cloudWatchLogs: { enabled: true, logGroup: brokerLogs.logGroupName } } },
      enhancedMonitoring: 'PER_TOPIC_PER_BROKER',
    });
    this.cluster.applyRemovalPolicy(removalPolicy);
    this.clusterArn = this.cluster.attrArn;

    // Storage auto-scaling: Application Auto Scaling target tracking on broker storage utilisation, through
    // MSK's service-linked role (no RoleARN). https://docs.aws.amazon.com/msk/latest/developerguide/msk-autoexpand.html
    const storage = new appscaling.CfnScalableTarget(this, 'StorageScalingTarget', {
      serviceNamespace: 'kafka',
      scalableDimension: 'kafka:broker-storage:VolumeSize',
      resourceId: this.clusterArn,
      minCapacity: 1,
      maxCapacity: stage.brokerMaxVolumeGiB,
    });
    new appscaling.CfnScalingPolicy(this, 'StorageScalingPolicy', {
      policyName: `${this.clusterName}-storage`,
      policyType: 'TargetTrackingScaling',
      scalingTargetId: storage.ref,
      targetTrackingScalingPolicyConfiguration: {
        predefinedMetricSpecification: { predefinedMetricType: 'KafkaBrokerStorageUtilization' },
        targetValue: 60,
        disableScaleIn: true,
      },
    });

    // The topic and group ARN prefixes, computed once here and exported: a consumer stack imports them and
    // writes each ARN as `<import><name>` instead of re-deriving the cluster name and UUID per ARN.
    const prefixes = kafkaArnPrefixes(this.clusterArn);
    this.exportNames = {
      topic: `${this.stackName}-TopicArnPrefix`,
      group: `${this.stackName}-GroupArnPrefix`,
    };
    new CfnOutput(this, 'TopicArnPrefix', {
      value: prefixes.topicArnPrefix,
      exportName: this.exportNames.topic,
    });
    new CfnOutput(this, 'GroupArnPrefix', {
      value: prefixes.groupArnPrefix,
      exportName: this.exportNames.group,
    });

    for (const spec of props.topics ?? topicSpecs()) {
      const topic = new msk.CfnTopic(this, `Topic-${spec.topic.replaceAll(/[^A-Za-z0-9]/g, '-')}`, {
        clusterArn: this.clusterArn,
        topicName: spec.topic,
        partitionCount: spec.partitions,
        replicationFactor: spec.replicationFactor,
        configs: topicConfigs(spec),
      });
      topic.applyRemovalPolicy(removalPolicy);
      const previous = this.topics[this.topics.length - TOPIC_CREATE_CONCURRENCY];
      if (previous) topic.addResourceDependency(previous);
      this.topics.push(topic);
    }
  }

  /**
   * The cluster's ARNs as another stack in the same account and region reads them: the cluster ARN by a strong
   * reference, the prefixes by importing this stack's exports (CloudFormation then refuses to change or delete
   * an export while a stack imports it, so no consumer can keep a stale value).
   */
  kafkaArns(): KafkaArns {
    return {
      clusterArn: this.clusterArn,
      topicArnPrefix: Fn.importValue(this.exportNames.topic),
      groupArnPrefix: Fn.importValue(this.exportNames.group),
    };
  }
}
