import { describe, expect, it } from 'vitest';
import { eventually } from '../../helpers/kafka.ts';

describe('eventually', () => {
  it('returns the first truthy value', async () => {
    let calls = 0;
    await expect(eventually(() => (++calls >= 3 ? calls : 0), 'the third call', 1_000, 1)).resolves.toBe(3);
  });

  it('throws, naming what it waited for, when the time runs out', async () => {
    await expect(eventually(() => false, 'the audit entry', 20, 5)).rejects.toThrow(
      'Timed out after 20 ms waiting for the audit entry',
    );
  });

  it('names the condition itself when a caller gives only a timeout', async () => {
    await expect(eventually(() => 1 > 2, 20)).rejects.toThrow(/waiting for `\(\) => 1 > 2`/);
  });
});
