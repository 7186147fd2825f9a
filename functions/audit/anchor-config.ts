import { ConfigError } from '../../shared/errors.ts';

/**
 * Where and for how long the audit trail is anchored (anchor.ts), without the S3 client: infra/resources.ts
 * and the CDK app read these too.
 */
export const ANCHOR_BUCKET_ENV = 'AUDIT_ANCHOR_BUCKET';
export const ANCHOR_RETENTION_ENV = 'AUDIT_ANCHOR_RETENTION_DAYS';

/**
 * Six years and a day, in days: HIPAA keeps documentation six years (45 CFR 164.316(b)(2)); six years hold at
 * most two leap days, and the extra day covers a digest written just before midnight.
 */
export const DEFAULT_RETENTION_DAYS = 6 * 365 + 2 + 1;

/** The retention each anchored object gets, from AUDIT_ANCHOR_RETENTION_DAYS (whole days, at least 1). */
export const anchorRetentionDays = (env: NodeJS.ProcessEnv = process.env): number => {
  const raw = env[ANCHOR_RETENTION_ENV]?.trim();
  if (!raw) return DEFAULT_RETENTION_DAYS;
  const days = Number(raw);
  if (!Number.isInteger(days) || days < 1)
    throw new ConfigError(
      `${ANCHOR_RETENTION_ENV} must be a whole number of days (at least 1), got "${raw}"`,
    );
  return days;
};
