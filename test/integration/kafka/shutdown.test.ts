import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { TOPICS } from '../../../shared/events/index.ts';
import { collect, testKafka, unique } from '../../helpers/kafka.ts';

const kafka = testKafka('shutdown-test');

describe('producer shutdown', () => {
  it('flushes queued events on SIGTERM when opted in, then disconnects and lets the process end', async () => {
    // Prepare
    const run = unique('sigterm');
    // Act: a real process whose 50 events are still lingering when SIGTERM arrives.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'test/fixtures/scripts/publish-then-sigterm.ts', run, '50'],
      { env: { ...process.env, POWERTOOLS_LOG_LEVEL: 'ERROR' }, stdio: 'ignore' },
    );
    const [code, signal] = await once(child, 'exit');
    // Assess: terminated by the re-raised SIGTERM, every event on the broker.
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGTERM' });
    const records = await collect(
      kafka,
      [TOPICS.MESSAGE_DELIVERED],
      (rs) => rs.filter((r) => r.key === run).length >= 50,
    );
    expect(records.filter((r) => r.key === run)).toHaveLength(50);
  });
});
