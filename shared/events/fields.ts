import * as z from 'zod';

/**
 * The zod builders functions use, through shared/ so bundles use the layer's copy (docs/benchmarks.md, row 4).
 * Named, not the `z` namespace: re-exporting the namespace makes the layer carry all of zod (every locale,
 * the JSON Schema converters: 474 KB minified, against the 102 KB the bus uses) and load it at cold start.
 */
export type { output } from 'zod';
export { strictObject, string } from 'zod';

/** Reusable field types for catalog schemas. Ids are opaque strings; dates are ISO 8601. */
export const id = z.string().min(1).max(128);
export const isoDate = z.iso.date();
export const isoDateTime = z.iso.datetime({ offset: true });
export const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'expected HH:MM');
export const language = z.enum(['fr', 'en']);
export const role = z.enum(['patient', 'doctor']);
export const freeText = z.string().max(2000);

/** Who did it. `system` covers schedulers and automated flows (e.g. the consultation-draft function). */
export const actorType = z.enum(['patient', 'doctor', 'admin', 'system']);
export const actor = z.strictObject({ id, type: actorType });
export type Actor = z.infer<typeof actor>;
