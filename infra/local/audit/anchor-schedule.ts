import { type AnchorResult, runAnchorTask } from '../../../functions/audit/anchor-handler.ts';
import { AUDIT_ANCHOR } from '../../resources.ts';

export interface AnchorSchedule {
  stop(): Promise<void>;
}

/** The local schedule's periods: infra/resources.ts AUDIT_ANCHOR, or AUDIT_DIGEST_EVERY_SECONDS for a demo. */
export const localAnchorPeriods = (env: NodeJS.ProcessEnv = process.env) => {
  const seconds = Number(env.AUDIT_DIGEST_EVERY_SECONDS);
  const digestEveryMs =
    Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : AUDIT_ANCHOR.digestEveryMinutes * 60_000;
  return {
    digestEveryMs,
    archiveEveryMs: Math.max(digestEveryMs, AUDIT_ANCHOR.archiveEveryHours * 3_600_000),
  };
};

/**
 * `npm start`'s stand-in for the CDK app's two EventBridge rules: the same anchor function, on timers, against
 * the local table and bucket. A run never overlaps the previous one of its task; stop waits for one in flight.
 */
export const startAnchorSchedule = (options: {
  digestEveryMs: number;
  archiveEveryMs: number;
  report: (result: AnchorResult) => void;
  failed: (task: string, error: unknown) => void;
}): AnchorSchedule => {
  const running = new Map<string, Promise<void>>();
  const tick = (task: 'digest' | 'archive') => {
    if (running.has(task)) return;
    const run = runAnchorTask({ task })
      .then(options.report, (error: unknown) => options.failed(task, error))
      .finally(() => running.delete(task));
    running.set(task, run);
  };
  const timers = [
    setInterval(() => tick('digest'), options.digestEveryMs),
    setInterval(() => tick('archive'), options.archiveEveryMs),
  ];
  for (const t of timers) t.unref();
  return {
    stop: async () => {
      for (const t of timers) clearInterval(t);
      await Promise.allSettled(running.values());
    },
  };
};
