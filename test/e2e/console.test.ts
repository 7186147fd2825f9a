import { randomUUID } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it, type MockInstance, vi } from 'vitest';
import { queryAudit } from '../../functions/audit/store.ts';
import { demoPhi, playDemo } from '../../infra/local/demo.ts';
import { REPO_ROOT } from '../../infra/local/kafka/jvm.ts';
import { startStack } from '../../infra/local/start.ts';
import { listKafkaDeadLetters } from '../../infra/ops/dlq.ts';
import { TOPICS } from '../../shared/events/index.ts';
import { createKafka } from '../../shared/kafka/config.ts';
import { checkKafkaHealth } from '../../shared/kafka/health.ts';
import { producer } from '../../shared/kafka/producer.ts';
import { launchBrowser } from '../helpers/chromium.ts';
import { eventually } from '../helpers/kafka.ts';
import { useOwnBroker } from '../helpers/own-broker.ts';

/** CONSOLE_SCREENSHOTS=docs/console writes a screenshot of each page there (the README's pictures). */
const SHOTS = process.env.CONSOLE_SCREENSHOTS;

/**
 * The operator console in a real headless Chromium, against the stack `npm start` runs (its own broker, local
 * AWS servers, every consumer through the ESM emulator, the console on the health server's port), after the
 * demo's two flows: the timeline shows every step, a poison record is dead-lettered and replayed through the
 * UI into exactly one audit entry, a reveal is audited and listed in the patient's access report, and no
 * PHI value is in any page before a reveal.
 */
describe('operator console', () => {
  const broker = useOwnBroker();
  let stack: Awaited<ReturnType<typeof startStack>>;
  let browser: Browser;
  let page: Page;
  let base: string;
  const lines: string[] = [];
  const saved = { ...process.env };
  let quiet: MockInstance<typeof console.log> | undefined;
  let run = '';
  let phiValues: string[] = [];
  const published = new Map<string, string>(); // topic → eventId (the demo publishes each topic once)

  /** The page's text as a reader sees it (no hidden fields, no markup). */
  const visibleText = () => page.evaluate('document.body.innerText') as Promise<string>;
  const go = async (path: string) => {
    const response = await page.goto(`${base}${path}`, { waitUntil: 'domcontentloaded' });
    return { status: response?.status() ?? 0, text: await visibleText() };
  };
  const content = () => page.content();
  const submit = async (selector: string) => {
    await Promise.all([page.waitForNavigation({ waitUntil: 'domcontentloaded' }), page.click(selector)]);
    return visibleText();
  };
  const shot = async (name: string) => {
    if (!SHOTS) return;
    const dir = join(REPO_ROOT, SHOTS);
    await mkdir(dir, { recursive: true });
    await page.screenshot({ path: join(dir, `${name}.png`) as `${string}.png`, fullPage: true });
  };
  const noPhiIn = async (where: string) => {
    const html = await content();
    for (const value of phiValues) expect(html, `${where} shows a PHI value`).not.toContain(value);
  };
  /** Every consumer has committed everything so far (the demo's events and its own outputs). */
  const caughtUp = async () => {
    const health = await checkKafkaHealth();
    return (health.consumers ?? []).every((c) => Object.values(c.lag).every((n) => n === 0));
  };

  beforeAll(async () => {
    process.env.KAFKA_BROKERS = broker.brokers();
    // The anchor's digest every 2 s instead of hourly, so the audit page has one to show.
    process.env.AUDIT_DIGEST_EVERY_SECONDS = '2';
    // `npm start` tells its user each step on stdout, and its anchor timer each digest (every 2 s here);
    // the test's output is its results.
    quiet = vi.spyOn(console, 'log').mockImplementation(() => undefined);
    const [started, launched] = await Promise.all([startStack({ freePorts: true }), launchBrowser()]);
    stack = started;
    browser = launched;
    page = await browser.newPage();
    base = `http://127.0.0.1:${stack.port}`;
    await go('/consumers'); // the lag chart samples from its first view on: let it see the demo
    const result = await playDemo(
      {
        kafka: await createKafka(),
        producer,
        sesEndpoint: stack.env.SES_ENDPOINT ?? '',
        print: (line) => void lines.push(line),
        timeoutMs: 60_000,
      },
      stack.observer,
    );
    expect(result).toEqual({ ok: true, missing: [] });
    run = /Demo run (\w+)/.exec(lines.join('\n'))?.[1] ?? '';
    phiValues = Object.values(demoPhi(run));
    for (const line of lines) {
      const m = /published (\S+) \(event ([\w-]+)\)/.exec(line);
      if (m?.[1] && m[2]) published.set(m[1], m[2]);
    }
    await eventually(caughtUp, 30_000);
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
    quiet?.mockRestore();
    process.env = saved;
  });

  it('shows every step of both demo flows, with actors and what each consumer did, and no PHI', async () => {
    // Act
    const byPatient = await go(`/flows?kind=patientId&id=pat-${run}`);
    await noPhiIn('patient search');
    await shot('flow-timeline');
    const flow1 = await go(`/flows?kind=appointmentId&id=apt-${run}`);
    await noPhiIn('flow 1');
    const flow2 = await go(`/flows?kind=appointmentId&id=apt-${run}-2`);
    await noPhiIn('flow 2');
    const byCorrelation = await go(
      `/flows?kind=correlationId&id=${published.get(TOPICS.APPOINTMENT_COMPLETED)}`,
    );
    const byDoctor = await go(`/flows?kind=doctorId&id=doc-${run}`);
    await noPhiIn('doctor search');
    const malformed = await go('/flows?kind=eventId&id=%3Cscript%3E');
    const unknown = await go(`/flows?kind=patientId&id=nobody-${randomUUID()}`);

    // Assess: flow 1, requested → doctor notified, confirmed → patient notified; each audited
    expect(flow1.status).toBe(200);
    expect(flow1.text).toContain('2 event(s)');
    expect(flow1.text).toMatch(
      new RegExp(
        `appointment\\.appointment\\.requested[\\s\\S]*pat-${run} \\(patient\\)[\\s\\S]*audit: audited[\\s\\S]*notification: notified doc-${run} by in_app \\[published\\], doc-${run} by email`,
      ),
    );
    expect(flow1.text).toMatch(
      new RegExp(
        `appointment\\.appointment\\.confirmed[\\s\\S]*doc-${run} \\(doctor\\)[\\s\\S]*audit: audited[\\s\\S]*notified pat-${run} by in_app \\[published\\], pat-${run} by email`,
      ),
    );
    expect(flow1.text).toContain('reason: PHI hidden');
    // Flow 2: completed → draft → consultation created → patient notified
    expect(flow2.text).toContain('2 event(s)');
    expect(flow2.text).toMatch(
      /appointment\.appointment\.completed[\s\S]*consultation-drafts: draft created: consultation \S+/,
    );
    expect(flow2.text).toMatch(
      new RegExp(
        `medical\\.consultation\\.created[\\s\\S]*audit: audited[\\s\\S]*notified pat-${run} by in_app \\[published\\], pat-${run} by email`,
      ),
    );
    expect(byCorrelation.text).toContain('medical.consultation.created');
    expect(byPatient.text).toContain('5 event(s)'); // the registration and both flows
    for (const topic of [
      TOPICS.APPOINTMENT_REQUESTED,
      TOPICS.APPOINTMENT_CONFIRMED,
      TOPICS.APPOINTMENT_COMPLETED,
      TOPICS.CONSULTATION_CREATED,
    ])
      expect(byDoctor.text).toContain(topic);
    // Bad input: a message in the page, no stack trace
    expect(malformed.status).toBe(400);
    expect(malformed.text).toContain('is not a valid eventId');
    expect(unknown.status).toBe(400);
    expect(unknown.text).toMatch(/No event found for patientId "nobody-/);
    for (const r of [malformed, unknown]) expect(r.text).not.toMatch(/\n\s+at .+:\d+:\d+/);
  });

  it('lists a poison record among the dead letters and replays it from the UI into exactly one audit entry', async () => {
    // Prepare: the audit table is missing while one event goes by (a permanent error: dead-lettered at once)
    const documentId = `doc-file-${run}`;
    const marker = `poison-${randomUUID()}`;
    phiValues.push(marker);
    const table = process.env.AUDIT_TABLE as string;
    process.env.AUDIT_TABLE = `missing-${randomUUID()}`;
    const { eventId } = await producer.publish(
      TOPICS.DOCUMENT_DELETED,
      { documentId, patientId: `pat-${run}`, reason: marker },
      { actor: { id: `doc-${run}`, type: 'doctor' }, service: 'demo' },
    );
    await producer.flush();
    const kafka = await createKafka();
    const letterOf = async () =>
      (await listKafkaDeadLetters(kafka, 20_000)).find(
        (e) => (e.letter?.originalMessage as { eventId?: string } | null)?.eventId === eventId,
      );
    try {
      await eventually(async () => Boolean(await letterOf()), 30_000);
    } finally {
      process.env.AUDIT_TABLE = table;
    }
    const entryId = (await letterOf())?.id as string;

    // Act: find it in the list, open it, select it, confirm, replay
    const list = await go('/dead-letters?q=medical.document.deleted');
    await noPhiIn('dead letters');
    await shot('dead-letters');
    const detail = await go(`/dead-letters/${encodeURIComponent(entryId)}`);
    await noPhiIn('dead letter detail');
    await go('/dead-letters?q=medical.document.deleted');
    await page.click(`tr[data-id="${entryId}"] input[type=checkbox]`);
    const confirm = await submit('form[action="/dead-letters/confirm"] button');
    await shot('replay-confirm');
    const result = await submit('button.danger');
    await eventually(
      async () => (await queryAudit('byResource', `document#${documentId}`)).length > 0,
      30_000,
    );
    await eventually(caughtUp, 30_000);
    const again = await go('/dead-letters?q=medical.document.deleted');
    await page.click(`tr[data-id="${entryId}"] input[type=checkbox]`);
    await submit('form[action="/dead-letters/confirm"] button');
    const refused = await submit('button.danger');
    const audited = await queryAudit('byResource', `document#${documentId}`);
    const timeline = await go(`/flows?kind=eventId&id=${eventId}`);

    // Assess
    expect(list.text).toContain(entryId);
    expect(list.text).toMatch(/ResourceNotFound|RETRIES_EXHAUSTED/);
    expect(detail.text).toMatch(/failed by\s+audit/);
    expect(detail.text).toContain('PHI hidden');
    expect(confirm).toContain(`${entryId}: its record goes back to medical.document.deleted`);
    expect(result).toMatch(
      new RegExp(`${entryId}: replayed, 1 record\\(s\\) → topic medical\\.document\\.deleted`),
    );
    expect(audited.map((e) => e.eventId)).toEqual([eventId]);
    expect(again.text).toMatch(/1×, last \S+ by /);
    expect(refused).toContain('already replayed');
    // The event's timeline: audited once, and its dead letter with the reason and the replay
    expect(timeline.text).toMatch(
      /medical\.document\.deleted[\s\S]*audit: audited[\s\S]*audit: dead-lettered: ResourceNotFoundException[^\n]*\(replayed 1×\)/,
    );
  });

  it("records a reveal in the audit trail and lists it in the patient's access report, exportable as CSV and JSON", async () => {
    // Prepare
    const requested = published.get(TOPICS.APPOINTMENT_REQUESTED) as string;
    await go(`/flows?kind=appointmentId&id=apt-${run}`);
    await noPhiIn('timeline before the reveal');

    // Act: reveal the request's reason, then read the patient's access report
    const revealed = await submit(`tr[data-event-id="${requested}"] button.reveal`);
    await shot('reveal');
    const report = async () => (await go(`/audit/report?patient=pat-${run}`)).text;
    await eventually(async () => (await report()).includes('ops.phi.revealed'), 30_000);
    const text = await report();
    await shot('access-report');
    const exports = await page.evaluate(async (patient) => {
      const csv = await (await fetch(`/audit/report.csv?patient=${patient}`)).text();
      const json = await (await fetch(`/audit/report.json?patient=${patient}`)).json();
      return { csv, json };
    }, `pat-${run}`);
    const review = await go(`/audit?kind=patient&id=pat-${run}`);
    await shot('audit-review');

    // Assess: the value shown only after the reveal; the reveal audited with who, which record, when
    expect(revealed).toContain(demoPhi(run).reason);
    expect(revealed).toMatch(
      /This reveal is recorded in the audit trail \(ops\.phi\.revealed, event [\w-]+\): operator \S+/,
    );
    for (const action of [
      TOPICS.APPOINTMENT_REQUESTED,
      TOPICS.APPOINTMENT_CONFIRMED,
      TOPICS.APPOINTMENT_COMPLETED,
      TOPICS.CONSULTATION_CREATED,
      TOPICS.DOCUMENT_DELETED,
      TOPICS.PHI_REVEALED,
    ])
      expect(text).toContain(action);
    expect(text).toMatch(
      /ops\.phi\.revealed\s+revealed reason of appointment\.appointment\.requested-\d+@\d+ in the operator console/,
    );
    expect(exports.csv.split('\r\n')[0]).toBe('when,who,who_type,what,why,resource,event_id');
    expect(exports.csv).toMatch(/,admin,ops\.phi\.revealed,revealed reason of appointment/);
    const accesses = (exports.json as { accesses: { what: string; whoType: string }[] }).accesses;
    expect(accesses.filter((a) => a.what === TOPICS.PHI_REVEALED)).toEqual([
      expect.objectContaining({ whoType: 'admin' }),
    ]);
    expect(review.text).toMatch(/appointment\.appointment\.requested-\d+\s+ok/);
    expect(review.text).not.toMatch(/\bbroken\b/);
    await noPhiIn('access report');
  });

  it('shows the consumers live with a lag chart, and the catalog with its PHI fields', async () => {
    // Act
    const consumers = await go('/consumers');
    await page.waitForSelector('#lag-chart canvas', { timeout: 15_000 });
    await shot('consumers');
    const catalog = await go('/catalog');
    await shot('catalog');

    // Assess
    for (const name of ['audit', 'notification', 'consultation-drafts'])
      expect(consumers.text).toContain(name);
    expect(consumers.text).toContain('running');
    expect(catalog.text).toMatch(/appointment\.appointment\.requested[\s\S]*reason/);
    expect(catalog.text).toContain('ops.phi.revealed');
  });

  it("shows the audit anchor's latest digest and that the trail still matches it", async () => {
    // Act: a digest taken after the demo (the schedule runs every 2 s here)
    const after = Date.now();
    const anchored = async () => {
      const { text } = await go('/audit');
      const at = /Latest digest #\d+ at (\S+) /.exec(text)?.[1];
      return at && Date.parse(at) > after ? text : undefined;
    };
    const text = await eventually(anchored, 'a digest newer than the demo on /audit', 30_000, 1_000);

    // Assess
    expect(text).toMatch(/Latest digest #\d+ at \S+ \(hash [0-9a-f]{16}…\): ok, every chain passes/);
    expect(text).not.toContain('tampered');
  });

  it('refuses requests for another host name and state changes from other origins', async () => {
    // Act
    const send = (method: string, headers: Record<string, string>, body = '') =>
      new Promise<number>((done, fail) => {
        const req = request(`${base}/reveal`, { method, headers }, (res) => {
          res.resume();
          done(res.statusCode ?? 0);
        });
        req.on('error', fail);
        req.end(body);
      });
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const rebound = await send('GET', { host: `attacker.example:${stack.port}` });
    const crossSite = await send('POST', { ...form, origin: 'http://attacker.example' }, 'eventId=x');
    const noToken = await send('POST', { ...form, origin: base }, 'eventId=x');

    // Assess
    expect(rebound).toBe(403);
    expect(crossSite).toBe(403);
    expect(noToken).toBe(403);
  });
});
