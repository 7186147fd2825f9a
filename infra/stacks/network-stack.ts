import { RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import type { StageConfig } from './stage.ts';

export interface NetworkStackProps extends StackProps {
  stage: StageConfig;
}

/**
 * A VPC over 3 AZs with private (isolated) subnets only and no NAT gateway: the brokers, the functions and
 * the event-source-mapping pollers talk to AWS APIs through VPC endpoints. With provisioned pollers the ESM
 * runs in the cluster's subnets and needs no internet path; it needs an SQS endpoint for the on-failure
 * destination (https://docs.aws.amazon.com/lambda/latest/dg/with-msk-cluster-network.html).
 */
export class NetworkStack extends Stack {
  readonly vpc: ec2.Vpc;
  /** The functions' security group (the MSK cluster's group allows it in on the IAM listener). */
  readonly functionSecurityGroup: ec2.SecurityGroup;
  /** The brokers' security group, also used by the event-source-mapping pollers. */
  readonly brokerSecurityGroup: ec2.SecurityGroup;

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const removalPolicy = props.stage.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;

    this.vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 3,
      natGateways: 0,
      subnetConfiguration: [{ name: 'private', subnetType: ec2.SubnetType.PRIVATE_ISOLATED, cidrMask: 22 }],
      restrictDefaultSecurityGroup: true,
    });

    // VPC flow logs (HIPAA audit controls) to an encrypted log group.
    const flowLogKey = new kms.Key(this, 'FlowLogKey', {
      description: 'esante VPC flow logs',
      enableKeyRotation: true,
      removalPolicy,
    });
    flowLogKey.grantEncryptDecrypt(new iam.ServicePrincipal(`logs.${this.region}.amazonaws.com`));
    const flowLogGroup = new logs.LogGroup(this, 'FlowLogs', {
      retention: props.stage.logRetentionDays as logs.RetentionDays,
      encryptionKey: flowLogKey,
      removalPolicy,
    });
    this.vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(flowLogGroup),
      trafficType: ec2.FlowLogTrafficType.ALL,
    });

    const isolated = { subnetType: ec2.SubnetType.PRIVATE_ISOLATED };
    // DynamoDB: a free gateway endpoint on the private route tables.
    this.vpc.addGatewayEndpoint('DynamoDb', {
      service: ec2.GatewayVpcEndpointAwsService.DYNAMODB,
      subnets: [isolated],
    });
    // S3: the audit anchor function writes digests and archives to the locked bucket (gateway, free).
    this.vpc.addGatewayEndpoint('S3', {
      service: ec2.GatewayVpcEndpointAwsService.S3,
      subnets: [isolated],
    });
    // Interface endpoints, reachable on 443 from inside the VPC only:
    //  SQS   the ESM's on-failure destination (required in the cluster's VPC);
    //  KAFKA GetBootstrapBrokers from the functions (shared/kafka/config.ts resolves brokers from MSK_CLUSTER_ARN);
    //  EMAIL SES v2 SendEmail from the notification function;
    //  STS   the MSK IAM auth signer's credential chain and the ESM's role assumption;
    //  KMS   client-side data-key calls on the customer-managed keys;
    //  XRAY  active tracing from functions with no internet path.
    const interfaces: Record<string, ec2.InterfaceVpcEndpointAwsService> = {
      Sqs: ec2.InterfaceVpcEndpointAwsService.SQS,
      Kafka: ec2.InterfaceVpcEndpointAwsService.KAFKA,
      Email: ec2.InterfaceVpcEndpointAwsService.EMAIL,
      Sts: ec2.InterfaceVpcEndpointAwsService.STS,
      Kms: ec2.InterfaceVpcEndpointAwsService.KMS,
      XRay: ec2.InterfaceVpcEndpointAwsService.XRAY,
    };

    this.functionSecurityGroup = new ec2.SecurityGroup(this, 'FunctionSg', {
      vpc: this.vpc,
      description: 'esante event-bus functions (egress to MSK and VPC endpoints only)',
      allowAllOutbound: false,
    });
    this.brokerSecurityGroup = new ec2.SecurityGroup(this, 'BrokerSg', {
      vpc: this.vpc,
      description: 'esante MSK brokers and ESM pollers (IAM/TLS listener 9098)',
      allowAllOutbound: true,
    });
    this.brokerSecurityGroup.addIngressRule(this.functionSecurityGroup, ec2.Port.tcp(9098), 'Functions');
    // The event-source-mapping pollers run with the cluster's own security group.
    this.brokerSecurityGroup.addIngressRule(this.brokerSecurityGroup, ec2.Port.tcp(9098), 'ESM pollers');

    // Endpoints admit only the functions and the pollers, never a CIDR.
    for (const [name, service] of Object.entries(interfaces)) {
      const endpoint = this.vpc.addInterfaceEndpoint(name, {
        service,
        subnets: isolated,
        privateDnsEnabled: true,
        open: false,
      });
      endpoint.connections.allowDefaultPortFrom(this.functionSecurityGroup, 'Functions');
      endpoint.connections.allowDefaultPortFrom(this.brokerSecurityGroup, 'ESM pollers');
    }

    // 443 anywhere reaches the interface endpoints and the DynamoDB and S3 gateway endpoints (whose address ranges
    // are a region prefix list); with no NAT or internet gateway there is no route beyond them.
    this.functionSecurityGroup.addEgressRule(
      ec2.Peer.anyIpv4(),
      ec2.Port.tcp(443),
      'AWS APIs via VPC endpoints',
    );
    this.functionSecurityGroup.addEgressRule(
      ec2.Peer.ipv4(this.vpc.vpcCidrBlock),
      ec2.Port.tcp(9098),
      'MSK brokers, IAM/TLS listener',
    );
  }
}
