import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
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
import { mskKafkaVersion } from '../constructs/kafka-access.ts';
import { VERSIONS } from '../versions.ts';
import type { StageConfig } from './stage.ts';

export interface EventBusStackProps extends StackProps {
  stage: StageConfig;
  vpc: ec2.IVpc;
  brokerSecurityGroup: ec2.ISecurityGroup;
}

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

  constructor(scope: Construct, id: string, props: EventBusStackProps) {
    super(scope, id, props);
    const { stage } = props;
    const removalPolicy = stage.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const kafkaVersion = mskKafkaVersion(VERSIONS.kafka);
    this.clusterName = `esante-${stage.name}`;

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

    for (const spec of topicSpecs()) {
      const topic = new msk.CfnTopic(this, `Topic-${spec.topic.replaceAll(/[^A-Za-z0-9]/g, '-')}`, {
        clusterArn: this.clusterArn,
        topicName: spec.topic,
        partitionCount: spec.partitions,
        replicationFactor: spec.replicationFactor,
        configs: topicConfigs(spec),
      });
      topic.applyRemovalPolicy(removalPolicy);
      this.topics.push(topic);
    }
  }
}
