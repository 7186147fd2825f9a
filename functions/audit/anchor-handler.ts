import type { Context } from 'aws-lambda';
import * as z from 'zod';
import { ConfigError } from '../../shared/errors.ts';
import { injectLambdaContext, middy } from '../../shared/lambda/middy.ts';
import { logger } from '../../shared/log.ts';
import { writeArchive, writeDigest } from './anchor.ts';

/** What a schedule asks for: a digest of every chain head, or an archive of what was appended since the last. */
export const anchorTaskSchema = z.strictObject({ task: z.enum(['digest', 'archive']) });
export type AnchorTask = z.infer<typeof anchorTaskSchema>;

export interface AnchorResult {
  task: AnchorTask['task'];
  seq: number;
  hash: string;
  chains: number;
  entries: number;
}

/** Runs one scheduled anchor task (the CDK app's rules, `npm start`'s timers). Logs counts and hashes only. */
export const runAnchorTask = async (input: unknown): Promise<AnchorResult> => {
  const parsed = anchorTaskSchema.safeParse(input);
  if (!parsed.success)
    throw new ConfigError('The anchor function expects {"task":"digest"} or {"task":"archive"}');
  const { task } = parsed.data;
  let result: AnchorResult;
  if (task === 'digest') {
    const d = await writeDigest();
    const entries = d.heads.reduce((n, h) => n + h.seq, 0);
    result = { task, seq: d.seq, hash: d.hash, chains: d.heads.length, entries };
  } else {
    const a = await writeArchive();
    result = { task, seq: a.seq, hash: a.hash, chains: Object.keys(a.upTo).length, entries: a.slots.length };
  }
  logger.info('Audit anchor written', { ...result });
  return result;
};

export const handler = middy<unknown, AnchorResult, Error, Context>()
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .handler((event) => runAnchorTask(event));
