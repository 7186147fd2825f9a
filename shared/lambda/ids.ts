import { createHash } from 'node:crypto';

/** Hex SHA-256 of the parts joined by a separator no id contains; the basis of every deterministic id. */
export const sha256 = (...parts: (string | Uint8Array)[]): string => {
  const hash = createHash('sha256');
  parts.forEach((part, i) => {
    if (i > 0) hash.update('\u0000');
    hash.update(part);
  });
  return hash.digest('hex');
};

/**
 * A name-based UUID (RFC 9562 version 5 layout over SHA-256 instead of SHA-1 — i.e. version 8, "custom"):
 * the same inputs always give the same id, which is what makes a redelivered event write the same row.
 */
export const deterministicUuid = (...parts: string[]): string => {
  const bytes = Buffer.from(sha256(...parts).slice(0, 32), 'hex');
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x80;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
};
