/**
 * Every version of outside software the bus runs, in one place. Read by the CDK app (the MSK Kafka version),
 * the local scripts (the Maven-fetched broker and ElasticMQ: infra/local/kafka/broker.ts,
 * infra/local/sqs/elasticmq.ts, whose pom.xml defaults a test keeps equal to these) and docker-compose.yml
 * (whose image tags a test keeps equal to IMAGES). Change a version here, then the pom default and the
 * compose tag the tests name; for Kafka also run `npm run kafka -- compat` (docs/kafka-version.md).
 */
export const VERSIONS = {
  /**
   * Apache Kafka: the local broker, the compose image, and (major.minor) the MSK cluster. 4.1 is the newest
   * line MSK supports, and kafkajs 2.2.4 works against it (docs/kafka-version.md).
   */
  kafka: '4.1.2',
  /** log4j2, the local broker's logging backend (Kafka 4.1 logs through slf4j 1.7). */
  log4j: '2.25.3',
  /** ElasticMQ (SQS-compatible), the server of the softwaremill/elasticmq-native image. */
  elasticmq: '1.7.1',
  /**
   * Versity S3 Gateway, the local S3 with Object Lock (infra/local/s3/versitygw.ts): built from the Go module
   * proxy, as no registry the scripts use publishes it otherwise.
   */
  versitygw: 'v1.8.0',
  /** kafka-ui, the maintained fork (kafbat; the provectuslabs original is no longer released). */
  kafkaUi: 'v1.5.0',
  /** DynamoDB Local, compose's stand-in for dynalite (the scripts use dynalite, no JVM). */
  dynamodbLocal: '3.3.1',
  /** aws-ses-v2-local, the SES stand-in (a devDependency here; compose's `ses` service runs this version). */
  sesLocal: '2.10.2',
  /** Node.js of the compose services that runs the consumers: the Lambda runtime's major (nodejs24.x). */
  node: '24.21.0',
} as const;

/** docker-compose.yml's image per service, every one pinned to a version above (never `latest`). */
export const IMAGES = {
  kafka: `apache/kafka:${VERSIONS.kafka}`,
  'kafka-ui': `ghcr.io/kafbat/kafka-ui:${VERSIONS.kafkaUi}`,
  elasticmq: `softwaremill/elasticmq-native:${VERSIONS.elasticmq}`,
  dynamodb: `amazon/dynamodb-local:${VERSIONS.dynamodbLocal}`,
  ses: `node:${VERSIONS.node}-slim`,
  s3: `versity/versitygw:${VERSIONS.versitygw}`,
  bus: `node:${VERSIONS.node}-slim`,
} as const;
