import { describe, expect, it } from 'vitest';
import { LagHistory } from '../../../console/consumers.ts';
import { accessReportCsv, type ConsoleDeps } from '../../../console/data.ts';
import { createConsole } from '../../../console/server.ts';

/** The console's request guards and input handling, in memory (Hono's app.request); no bus behind it. */
const app = createConsole({
  deps: { operator: 'op' } as ConsoleDeps,
  lag: new LagHistory(async () => []),
  hosts: () => ['127.0.0.1:3000', 'localhost:3000'],
  stage: 'local',
});
const own = { host: '127.0.0.1:3000' };
const form = { ...own, 'content-type': 'application/x-www-form-urlencoded' };

describe('operator console (in memory)', () => {
  it('serves its pages under its own host name only (DNS rebinding)', async () => {
    // Act
    const ok = await app.request('/catalog', { headers: own });
    const rebound = await app.request('/catalog', { headers: { host: 'attacker.example:3000' } });

    // Assess
    expect(ok.status).toBe(200);
    expect(ok.headers.get('cache-control')).toBe('no-store');
    expect(ok.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(await ok.text()).toContain('ops.phi.revealed');
    expect(rebound.status).toBe(403);
  });

  it('refuses a state change from another origin, or without the page token', async () => {
    // Act
    const crossSite = await app.request('/reveal', {
      method: 'POST',
      headers: { ...form, origin: 'http://attacker.example' },
      body: 'eventId=e-1',
    });
    const noToken = await app.request('/reveal', {
      method: 'POST',
      headers: { ...form, origin: 'http://127.0.0.1:3000' },
      body: 'eventId=e-1',
    });

    // Assess
    expect(crossSite.status).toBe(403);
    expect(noToken.status).toBe(403);
    expect(await noToken.text()).toContain('reload the page');
  });

  it('answers a malformed id with a message in the page, escaped, without a stack trace', async () => {
    // Act
    const response = await app.request('/flows?kind=eventId&id=%3Cscript%3Ealert(1)%3C/script%3E', {
      headers: own,
    });
    const unknownKind = await app.request('/audit?kind=everyone&id=x', { headers: own });
    const html = await response.text();

    // Assess
    expect(response.status).toBe(400);
    expect(html).toContain('is not a valid eventId');
    expect(html).not.toContain('<script>alert');
    expect(html).not.toMatch(/\bat .+\.ts:\d+/);
    expect(unknownKind.status).toBe(400);
    expect(await unknownKind.text()).toContain('Unknown audit view');
  });

  it('exports the access report as CSV that a spreadsheet cannot read as formulas', () => {
    // Act
    const csv = accessReportCsv([
      {
        when: '2026-11-30T09:00:00.000Z',
        who: '=HYPERLINK("x")',
        whoType: 'admin',
        what: 'ops.phi.revealed',
        why: 'revealed reason, of a record',
        resource: 'record#r-1',
        eventId: 'e-1',
      },
    ]);

    // Assess
    expect(csv.split('\r\n')).toEqual([
      'when,who,who_type,what,why,resource,event_id',
      `2026-11-30T09:00:00.000Z,"'=HYPERLINK(""x"")",admin,ops.phi.revealed,"revealed reason, of a record",record#r-1,e-1`,
    ]);
  });
});
