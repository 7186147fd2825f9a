import type { App } from 'aws-cdk-lib';
import { AUDIT_ANCHOR } from '../resources.ts';

/**
 * What differs between dev and prod: sizes and retention. Everything else (topics, consumers, tables) comes
 * from shared/events/catalog.ts, infra/consumers.ts and infra/resources.ts, identical in both stages.
 */
export interface StageConfig {
  name: 'dev' | 'prod';
  /** MSK broker instance type (m7g supports storage auto-scaling, unlike t3.small). */
  brokerInstanceType: string;
  /** One broker per AZ: 3 AZs, so a multiple of 3 (RF 3 and min.insync.replicas 2 need at least 3). */
  brokerNodes: number;
  brokerVolumeGiB: number;
  /** Ceiling for storage auto-scaling (Application Auto Scaling on kafka:broker-storage:VolumeSize). */
  brokerMaxVolumeGiB: number;
  /** CloudWatch retention of broker, function and flow logs. */
  logRetentionDays: number;
  /** Keep tables, keys and log groups when the stack is deleted (prod) or destroy them (dev). */
  retainData: boolean;
  /**
   * Reserve each function's concurrency (`reservedConcurrency` of infra/consumers.ts, 2 for health) or leave
   * every function unreserved. Lambda keeps 100 of the account's concurrency unreserved, and a new account's
   * quota can be far below 1,000, so a first deploy fails if the stage reserves more than the quota allows.
   */
  reserveConcurrency: boolean;
  /** The account concurrency quota (Service Quotas L-B99A9384) the reservations are checked against. */
  accountConcurrency: number;
  /**
   * COMPLIANCE retention of each audit digest and archive, in days. prod: six years and a day (HIPAA's six
   * years, infra/resources.ts AUDIT_ANCHOR); dev: one day, since nobody can delete a locked object or its
   * bucket before then, and a dev stage is destroyed and deployed again.
   */
  auditRetentionDays: number;
}

/** Concurrency Lambda always leaves unreserved in an account. */
export const UNRESERVED_CONCURRENCY_FLOOR = 100;

export const STAGES: Record<StageConfig['name'], StageConfig> = {
  dev: {
    name: 'dev',
    brokerInstanceType: 'kafka.m7g.large',
    brokerNodes: 3,
    brokerVolumeGiB: 100,
    brokerMaxVolumeGiB: 500,
    logRetentionDays: 30,
    retainData: false,
    reserveConcurrency: false,
    accountConcurrency: 1_000,
    auditRetentionDays: 1,
  },
  prod: {
    name: 'prod',
    brokerInstanceType: 'kafka.m7g.xlarge',
    brokerNodes: 3,
    brokerVolumeGiB: 500,
    brokerMaxVolumeGiB: 4_000,
    logRetentionDays: 365,
    retainData: true,
    reserveConcurrency: true,
    accountConcurrency: 1_000,
    auditRetentionDays: AUDIT_ANCHOR.retentionDays,
  },
};

export interface AppSettings {
  stage: StageConfig;
  env: { account: string; region: string };
}

/**
 * Reads `stage`, `account` and `region` from the CDK context (cdk.json has a dummy account so `cdk synth`
 * works offline with no credentials; deploy with `-c account=… -c region=… -c stage=prod`).
 */
export const settingsFrom = (app: App): AppSettings => {
  const stageName = String(app.node.tryGetContext('stage') ?? 'dev');
  const stage = STAGES[stageName as StageConfig['name']];
  if (!stage)
    throw new Error(`Unknown stage "${stageName}": expected one of ${Object.keys(STAGES).join(', ')}`);
  const account = String(app.node.tryGetContext('account') ?? process.env.CDK_DEFAULT_ACCOUNT ?? '');
  const region = String(app.node.tryGetContext('region') ?? process.env.CDK_DEFAULT_REGION ?? '');
  if (!/^\d{12}$/.test(account)) throw new Error('Context "account" must be a 12-digit AWS account id');
  if (!region) throw new Error('Context "region" is required');
  return { stage, env: { account, region } };
};
