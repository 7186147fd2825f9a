import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { type Context, Hono } from 'hono';
import { csrf } from 'hono/csrf';
import { html, raw } from 'hono/html';
import { HTTPException } from 'hono/http-exception';
import { secureHeaders } from 'hono/secure-headers';
import type { HtmlEscapedString } from 'hono/utils/html';
import { ANCHOR_BUCKET_ENV } from '../functions/audit/anchor-config.ts';
import { latestDigestStatus } from '../functions/audit/anchor-verify.ts';
import type { DlqEntry } from '../infra/ops/dlq.ts';
import { replayEntry } from '../infra/ops/dlq-cli.ts';
import { catalogRows, type LagHistory } from './consumers.ts';
import {
  accessReport,
  accessReportCsv,
  auditReview,
  type ConsoleDeps,
  checkId,
  deadLetterDetail,
  deadLetters,
  findFlow,
  InputError,
  revealRecord,
  SEARCH_KINDS,
  type SearchKind,
  type TimelineItem,
} from './data.ts';

type Html = HtmlEscapedString | Promise<HtmlEscapedString>;

const require = createRequire(import.meta.url);
const assetCache = new Map<string, string>();
const asset = (file: string) => {
  let text = assetCache.get(file);
  if (text === undefined) {
    text = readFileSync(file, 'utf8');
    assetCache.set(file, text);
  }
  return text;
};
const ASSETS: Record<string, { type: string; body: () => string }> = {
  'uplot.js': { type: 'text/javascript', body: () => asset(require.resolve('uplot/dist/uPlot.iife.min.js')) },
  'uplot.css': { type: 'text/css', body: () => asset(require.resolve('uplot/dist/uPlot.min.css')) },
  'console.css': { type: 'text/css', body: () => asset(join(import.meta.dirname, 'assets/console.css')) },
  'consumers.js': {
    type: 'text/javascript',
    body: () => asset(join(import.meta.dirname, 'assets/consumers.js')),
  },
};

const PAGES = [
  ['/flows', 'Flow timeline'],
  ['/dead-letters', 'Dead letters'],
  ['/audit', 'Audit review'],
  ['/consumers', 'Consumers'],
  ['/catalog', 'Catalog'],
] as const;

export interface ConsoleOptions {
  deps: ConsoleDeps;
  lag: LagHistory;
  /** The console's own origins' host:port forms (the listening port is known only once it listens). */
  hosts: () => string[];
  /** Shown in the header: `local` or the stage name. */
  stage: string;
}

const HIDDEN = html`<span class="phi">PHI hidden</span>`;

/**
 * The operator console: server-rendered pages (Hono), forms for every action, and one small script for the
 * live lag chart (uPlot). Requests must name the console itself as Host (DNS rebinding), state-changing
 * requests must come from its own pages (Origin / Sec-Fetch-Site, and the page's token), and every answer
 * is `no-store`: pages may hold PHI once revealed.
 */
export const createConsole = (options: ConsoleOptions): Hono => {
  const { deps, lag } = options;
  const token = randomBytes(24).toString('base64url');
  const app = new Hono();

  app.use('*', async (c, next) => {
    const host = c.req.header('host') ?? '';
    if (!options.hosts().includes(host.toLowerCase()))
      return c.text(`Host "${host.slice(0, 100)}" is not this console's; open it by its own address.`, 403);
    const origin = c.req.header('origin');
    if (origin && origin !== 'null' && !options.hosts().some((h) => origin === `http://${h}`))
      return c.text('Cross-origin requests are refused.', 403);
    await next();
    // Pages may hold PHI once revealed: never cached. The static assets may be.
    c.header('cache-control', c.req.path.startsWith('/assets/') ? 'max-age=3600' : 'no-store');
  });
  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
      referrerPolicy: 'same-origin',
    }),
  );
  app.use('*', csrf({ origin: (origin) => options.hosts().some((h) => origin === `http://${h}`) }));
  // The page's token: a form from anywhere else cannot know it (defence in depth beside the Origin check).
  app.use('*', async (c, next) => {
    if (c.req.method === 'POST') {
      const body = await c.req.parseBody();
      const given = Buffer.from(String(body._csrf ?? ''));
      const want = Buffer.from(token);
      if (given.length !== want.length || !timingSafeEqual(given, want))
        return c.html(
          page(
            'Refused',
            html`<p class="error">This form is out of date or not from this console; reload the page and try again.</p>`,
          ),
          403,
        );
    }
    await next();
  });

  const tokenField = html`<input type="hidden" name="_csrf" value="${token}">`;

  const page = (title: string, body: Html, status?: string): Html => html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title} · e-santé bus console</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/assets/console.css"></head>
<body><header><strong>e-santé bus console</strong> <span class="stage">${options.stage}</span>
<nav>${PAGES.map(([href, label]) => html`<a href="${href}"${title === label ? raw(' aria-current="page"') : ''}>${label}</a>`)}</nav>
<span class="who">operator ${deps.operator}</span></header>
<main><h1>${title}</h1>${status ? html`<p class="notice">${status}</p>` : ''}${body}</main></body></html>`;

  const fail = (c: Context, title: string, error: unknown, form: Html = html``) => {
    const message =
      error instanceof InputError
        ? error.message
        : `The request could not be completed (${error instanceof Error ? error.name : 'error'}${
            error instanceof Error ? `: ${error.message.split('\n')[0]?.slice(0, 300)}` : ''
          }).`;
    return c.html(
      page(title, html`${form}<p class="error" role="alert">${message}</p>`),
      error instanceof InputError ? 400 : 500,
    );
  };

  app.onError((error, c) =>
    error instanceof HTTPException && error.status === 403
      ? c.html(
          page(
            'Refused',
            html`<p class="error" role="alert">Refused: state-changing requests must come from the console's own pages.</p>`,
          ),
          403,
        )
      : fail(c, 'Error', error),
  );
  app.notFound((c) => c.html(page('Not found', html`<p class="error">No page ${c.req.path}.</p>`), 404));

  app.get('/', (c) => c.redirect('/flows'));
  app.get('/assets/:file', (c) => {
    const a = ASSETS[c.req.param('file')];
    if (!a) return c.notFound();
    return c.body(a.body(), 200, { 'content-type': `${a.type}; charset=utf-8` });
  });

  // ---- Flow timeline ----
  const flowForm = (kind: string, id: string) => html`<form method="get" action="/flows" class="search">
<label>Search by <select name="kind">${SEARCH_KINDS.map((k) => html`<option value="${k}"${k === kind ? raw(' selected') : ''}>${k}</option>`)}</select></label>
<input name="id" value="${id}" placeholder="an id" size="40" aria-label="id"> <button>Show the flow</button></form>`;

  const revealForm = (
    fields: { eventId?: string; deadLetterId?: string; recordIndex?: number },
    back: string,
  ) =>
    html`<form method="post" action="/reveal" class="inline">${tokenField}
${fields.eventId ? html`<input type="hidden" name="eventId" value="${fields.eventId}">` : ''}
${fields.deadLetterId ? html`<input type="hidden" name="deadLetterId" value="${fields.deadLetterId}">` : ''}
${fields.recordIndex ? html`<input type="hidden" name="recordIndex" value="${fields.recordIndex}">` : ''}
<input type="hidden" name="back" value="${back}">
<button class="reveal" title="Shows this record's PHI fields; the reveal is written to the audit trail">Reveal PHI</button></form>`;

  const kv = (o: Record<string, unknown>) =>
    html`${Object.entries(o).map(([k, v]) => html`<span class="kv"><b>${k}</b> ${typeof v === 'string' ? v : JSON.stringify(v)}</span> `)}`;

  const timelineRow = (
    item: TimelineItem,
    back: string,
  ) => html`<tr class="${item.kind}" data-event-id="${item.eventId}">
<td>${item.at}</td><td><code>${item.topic}</code><div class="small">event ${item.eventId}</div></td>
<td>${item.actor}</td><td>${kv(item.summary)}
${item.phiFields.length ? html`<div class="small">${item.phiFields.join(', ')}: ${HIDDEN} ${revealForm(item.kind === 'event' ? { eventId: item.eventId } : { deadLetterId: item.deadLetterId ?? '' }, back)}</div>` : ''}</td>
<td><ul class="outcomes">${item.outcomes.map((o) => html`<li class="${o.status.replace(/[^a-z]+/g, '-')}"><b>${o.consumer}</b>: ${o.detail}${o.deadLetterId ? html` <a href="/dead-letters/${encodeURIComponent(o.deadLetterId)}">open</a>` : ''}</li>`)}</ul></td></tr>`;

  app.get('/flows', async (c) => {
    const kind = (c.req.query('kind') ?? 'appointmentId') as SearchKind;
    const id = c.req.query('id') ?? '';
    const form = flowForm(kind, id);
    if (!id)
      return c.html(
        page(
          'Flow timeline',
          html`${form}<p>Every event of a flow in order, with who did it and what each consumer made of it.</p>`,
        ),
      );
    try {
      if (!SEARCH_KINDS.includes(kind))
        throw new InputError(`Unknown search "${String(kind).slice(0, 40)}".`);
      const items = await findFlow(deps, kind, id);
      const back = `/flows?kind=${encodeURIComponent(kind)}&id=${encodeURIComponent(id)}`;
      return c.html(
        page(
          'Flow timeline',
          html`${form}<p>${items.length} event(s) for ${kind} <code>${id}</code>.</p>
<table class="timeline"><thead><tr><th>time</th><th>topic</th><th>actor</th><th>event (PHI fields hidden)</th><th>consumers</th></tr></thead>
<tbody>${items.map((i) => timelineRow(i, back))}</tbody></table>`,
        ),
      );
    } catch (error) {
      return fail(c, 'Flow timeline', error, form);
    }
  });

  // ---- Reveal ----
  app.post('/reveal', async (c) => {
    const body = await c.req.parseBody();
    const back = String(body.back ?? '/flows');
    const safeBack = back.startsWith('/') && !back.startsWith('//') ? back : '/flows';
    try {
      const ref = {
        ...(body.eventId ? { eventId: String(body.eventId) } : {}),
        ...(body.deadLetterId ? { deadLetterId: checkId('dead letter id', String(body.deadLetterId)) } : {}),
        ...(body.recordIndex ? { recordIndex: Number(body.recordIndex) } : {}),
      };
      if (!ref.eventId && !ref.deadLetterId) throw new InputError('Name the record to reveal.');
      const shown = await revealRecord(deps, ref);
      return c.html(
        page(
          'Revealed record',
          html`<p>PHI fields of ${ref.eventId ? html`event <code>${ref.eventId}</code>` : html`dead letter <code>${ref.deadLetterId}</code>, record #${(ref.recordIndex ?? 0) + 1}`}:</p>
<dl class="revealed">${Object.entries(shown.fields).map(([k, v]) => html`<dt>${k}</dt><dd>${typeof v === 'string' ? v : JSON.stringify(v)}</dd>`)}</dl>
${Object.keys(shown.fields).length ? '' : html`<p>This record carries none of its topic's PHI fields.</p>`}
<p><a href="${safeBack}">Back</a></p>`,
          `This reveal is recorded in the audit trail (ops.phi.revealed, event ${shown.auditEventId}): operator ${deps.operator}, this record, at ${new Date().toISOString()}.`,
        ),
      );
    } catch (error) {
      return fail(c, 'Reveal', error, html`<p><a href="${safeBack}">Back</a></p>`);
    }
  });

  // ---- Dead letters ----
  const where = (e: DlqEntry) =>
    e.ranges
      .map((r) => `${r.topic}-${r.partition}@${r.first}${r.last === r.first ? '' : `..${r.last}`}`)
      .join(', ');
  const age = (ts: string) => {
    const s = Math.max(0, Math.round((Date.now() - Date.parse(ts)) / 1000));
    return Number.isNaN(s)
      ? '?'
      : s < 120
        ? `${s} s`
        : s < 7200
          ? `${Math.round(s / 60)} min`
          : `${Math.round(s / 3600)} h`;
  };

  app.get('/dead-letters', async (c) => {
    const source = c.req.query('source') ?? '';
    const q = (c.req.query('q') ?? '').trim().toLowerCase();
    const form = html`<form method="get" action="/dead-letters" class="search"><label>Tier <select name="source">
${[
  ['', 'both'],
  ['kafka', 'in-function (esante.dlq)'],
  ['sqs', 'event-source mapping (SQS)'],
].map(
  ([v, l]) => html`<option value="${v}"${v === source ? raw(' selected') : ''}>${l}</option>`,
)}</select></label>
<input name="q" value="${q}" placeholder="filter: topic, reason, function" size="30" aria-label="filter"> <button>Filter</button></form>`;
    try {
      const all = await deadLetters(deps, true);
      const shown = all.filter(
        (e) =>
          (!source || e.source === source) &&
          (!q || `${where(e)} ${e.reason} ${e.failedBy} ${e.id}`.toLowerCase().includes(q)),
      );
      return c.html(
        page(
          'Dead letters',
          html`${form}<p>${shown.length} of ${all.length} dead letter(s).</p>
<form method="post" action="/dead-letters/confirm">${tokenField}
<table class="dlq"><thead><tr><th></th><th>entry</th><th>tier</th><th>source record(s)</th><th>failed by</th><th>reason</th><th>age</th><th>replayed</th></tr></thead><tbody>
${shown.map(
  (
    e,
  ) => html`<tr data-id="${e.id}"><td><input type="checkbox" name="id" value="${e.id}" aria-label="select ${e.id}"></td>
<td><a href="/dead-letters/${encodeURIComponent(e.id)}">${e.id}</a></td><td>${e.source === 'kafka' ? 'in-function' : 'ESM (SQS)'}</td>
<td><code>${where(e)}</code></td><td>${e.failedBy}</td><td>${(deadLetterReason.get(e.id) ?? e.reason).slice(0, 200)}</td><td>${age(e.timestamp)}</td>
<td>${e.replays?.length ? `${e.replays.length}×, last ${e.replays.at(-1)?.at} by ${e.replays.at(-1)?.by}` : '—'}</td></tr>`,
)}
</tbody></table><p><button>Replay selected…</button></p></form>`,
        ),
      );
    } catch (error) {
      return fail(c, 'Dead letters', error, form);
    }
  });
  /** Reasons scrubbed of their records' PHI values, filled as details are opened. */
  const deadLetterReason = new Map<string, string>();

  app.get('/dead-letters/:id', async (c) => {
    const id = c.req.param('id');
    try {
      checkId('dead letter id', id);
      const d = await deadLetterDetail(deps, id);
      deadLetterReason.set(id, d.reason);
      const back = `/dead-letters/${encodeURIComponent(id)}`;
      return c.html(
        page(
          `Dead letter ${id}`,
          html`<dl class="detail"><dt>tier</dt><dd>${d.entry.source === 'kafka' ? 'in-function (esante.dlq)' : 'event-source mapping (SQS on-failure)'}</dd>
<dt>failed by</dt><dd>${d.entry.failedBy}</dd><dt>reason</dt><dd>${d.reason}</dd><dt>when</dt><dd>${d.entry.timestamp} (${age(d.entry.timestamp)} ago)</dd>
<dt>records</dt><dd><code>${where(d.entry)}</code></dd>
<dt>replayed</dt><dd>${d.entry.replays?.length ? d.entry.replays.map((r) => html`${r.at} by ${r.by} → ${r.target}<br>`) : 'never'}</dd></dl>
<h2>Original record(s), PHI fields hidden</h2>${d.records.map((r, i) => html`<pre>${JSON.stringify(r, null, 2)}</pre>${revealForm({ deadLetterId: id, recordIndex: i }, back)}`)}
<form method="post" action="/dead-letters/confirm">${tokenField}<input type="hidden" name="id" value="${id}"><button>Replay…</button></form>`,
        ),
      );
    } catch (error) {
      return fail(c, 'Dead letter', error, html`<p><a href="/dead-letters">All dead letters</a></p>`);
    }
  });

  const idsOf = async (c: Context) => {
    const body = await c.req.parseBody({ all: true });
    const raw = body.id;
    const ids = (Array.isArray(raw) ? raw : raw ? [raw] : []).map((x) =>
      checkId('dead letter id', String(x)),
    );
    if (ids.length === 0) throw new InputError('Select at least one dead letter to replay.');
    // The listing of the last few seconds: a replay refreshes it, so a replayed entry is known as such.
    const all = await deadLetters(deps);
    return ids.map((id) => {
      const e = all.find((x) => x.id === id);
      if (!e) throw new InputError(`No dead letter ${id}: it was replayed and removed, or never existed.`);
      return e;
    });
  };

  const consequence = (e: DlqEntry) =>
    e.source === 'kafka'
      ? `its record goes back to ${e.letter?.originalTopic} with the same key, bytes and headers (the same eventId), so every consumer of that topic reads it again; their side effects are idempotent on the eventId`
      : `its ${e.ranges.length} range(s) are re-read from Kafka and handed to the function that gave up (${e.failedBy}); once it succeeds the message is deleted from the SQS queue`;

  app.post('/dead-letters/confirm', async (c) => {
    try {
      const entries = await idsOf(c);
      return c.html(
        page(
          'Confirm replay',
          html`<p>Replaying ${entries.length} dead letter(s):</p><ul>${entries.map((e) => html`<li><b>${e.id}</b>: ${consequence(e)}.${e.replays?.length ? html` <span class="warn">Already replayed ${e.replays.length}× (last ${e.replays.at(-1)?.at} by ${e.replays.at(-1)?.by}); replaying again changes nothing already done.</span>` : ''}</li>`)}</ul>
<form method="post" action="/dead-letters/replay">${tokenField}${entries.map((e) => html`<input type="hidden" name="id" value="${e.id}">`)}
${entries.some((e) => e.replays?.length) ? html`<label><input type="checkbox" name="again" value="1"> replay the entries already replayed again</label><br>` : ''}
<button class="danger">Replay ${entries.length} dead letter(s)</button> <a href="/dead-letters">Cancel</a></form>`,
        ),
      );
    } catch (error) {
      return fail(c, 'Confirm replay', error, html`<p><a href="/dead-letters">Dead letters</a></p>`);
    }
  });

  app.post('/dead-letters/replay', async (c) => {
    try {
      const body = await c.req.parseBody();
      const entries = await idsOf(c);
      const again = body.again === '1';
      const already = entries.filter((e) => e.replays?.length);
      if (already.length && !again)
        throw new InputError(
          `${already.map((e) => e.id).join(', ')} already replayed (last ${already[0]?.replays?.at(-1)?.at}); nothing was done. Tick "replay again" to replay it once more.`,
        );
      const results: { id: string; text: string; ok: boolean }[] = [];
      for (const e of entries) {
        try {
          const r = await replayEntry(deps.dlq, e, { by: deps.operator });
          results.push({
            id: e.id,
            ok: r.failures === 0,
            text: `${r.records} record(s) → ${r.target}${r.failures ? `, ${r.failures} failed again` : ''}`,
          });
        } catch (error) {
          results.push({ id: e.id, ok: false, text: error instanceof Error ? error.message : String(error) });
        }
      }
      await deadLetters(deps, true);
      return c.html(
        page(
          'Replay result',
          html`<ul class="results">${results.map((r) => html`<li class="${r.ok ? 'ok' : 'failed'}" data-id="${r.id}"><b>${r.id}</b>: ${r.ok ? 'replayed' : 'failed'}, ${r.text}</li>`)}</ul>
<p><a href="/dead-letters">Back to the dead letters</a></p>`,
        ),
      );
    } catch (error) {
      return fail(c, 'Replay', error, html`<p><a href="/dead-letters">Dead letters</a></p>`);
    }
  });

  // ---- Audit review ----
  const auditForm = (
    kind: string,
    id: string,
  ) => html`<form method="get" action="/audit" class="search"><label>Entries of
<select name="kind">${['patient', 'actor', 'resource'].map((k) => html`<option value="${k}"${k === kind ? raw(' selected') : ''}>${k}</option>`)}</select></label>
<input name="id" value="${id}" placeholder="patient id, actor id or type#id" size="36" aria-label="id"> <button>Review</button></form>`;

  /**
   * The trail against its anchor (functions/audit/anchor-verify.ts): the latest digest in the Object Lock
   * bucket and whether every chain still passes through the heads the digests recorded. A full verification,
   * so it is shown on the audit page's landing view only.
   */
  const anchorStatus = async (): Promise<Html> => {
    if (!process.env[ANCHOR_BUCKET_ENV])
      return html`<p class="small">No audit anchor configured (${ANCHOR_BUCKET_ENV} unset).</p>`;
    try {
      const { digest, status, chains } = await latestDigestStatus();
      const bad = chains.filter((ch) => /^(broken|truncated|rewritten)/.test(ch.verdict));
      return html`<h2>Anchor</h2><p class="anchor anchor-${status}">${
        digest
          ? `Latest digest #${digest.seq} at ${digest.createdAt} (hash ${digest.hash.slice(0, 16)}…): ${status === 'ok' ? 'ok, every chain passes through its digested heads' : 'tampered'}`
          : 'No digest written yet'
      }</p>${bad.length ? html`<ul>${bad.map((ch) => html`<li><code>${ch.chainKey}</code>: ${ch.verdict}</li>`)}</ul>` : ''}`;
    } catch (error) {
      return html`<p class="error">Anchor status unavailable (${error instanceof Error ? error.name : 'error'}).</p>`;
    }
  };

  app.get('/audit', async (c) => {
    const kind = c.req.query('kind') ?? 'patient';
    const id = c.req.query('id') ?? '';
    const form = auditForm(kind, id);
    if (!id)
      return c.html(
        page(
          'Audit review',
          html`${form}<p>The trail's entries for a patient, an actor or a resource, with each hash chain's verification.</p>${await anchorStatus()}`,
        ),
      );
    try {
      const { entries, chains } = await auditReview(kind, id);
      return c.html(
        page(
          'Audit review',
          html`${form}
${kind === 'patient' ? html`<p><a href="/audit/report?patient=${encodeURIComponent(id)}">Access report for patient ${id}</a></p>` : ''}
<h2>Hash chains</h2><table class="chains"><thead><tr><th>chain</th><th>status</th><th></th></tr></thead><tbody>
${chains.map((ch) => html`<tr><td><code>${ch.chainKey}</code></td><td class="chain-${ch.status}">${ch.status}</td><td>${ch.detail}</td></tr>`)}</tbody></table>
<h2>${entries.length} entr(ies)</h2><table class="entries"><thead><tr><th>when</th><th>action</th><th>by</th><th>resource</th><th>patient</th><th>chain</th></tr></thead><tbody>
${entries.map((e) => html`<tr data-event-id="${e.eventId}"><td>${e.occurredAt}</td><td><code>${e.action}</code><div class="small">${e.description}</div></td><td>${e.performedBy ? `${e.performedBy} (${e.performedByType})` : 'actor unknown'}</td><td>${e.resourceKey}</td><td>${e.patientId ?? ''}</td><td>${e.chainKey} #${(e as { chainSeq?: number }).chainSeq ?? '?'}</td></tr>`)}
</tbody></table>`,
        ),
      );
    } catch (error) {
      return fail(c, 'Audit review', error, form);
    }
  });

  app.get('/audit/report', async (c) => {
    const patient = c.req.query('patient') ?? '';
    const form = html`<form method="get" action="/audit/report" class="search"><label>Patient <input name="patient" value="${patient}" size="30"></label> <button>Report</button></form>`;
    if (!patient)
      return c.html(page('Access report', html`${form}<p>Who touched a patient's record, when and why.</p>`));
    try {
      const rows = await accessReport(patient);
      const q = encodeURIComponent(patient);
      return c.html(
        page(
          'Access report',
          html`${form}<p>${rows.length} access(es) to patient <code>${patient}</code>'s record. Export: <a href="/audit/report.csv?patient=${q}" download>CSV</a> · <a href="/audit/report.json?patient=${q}" download>JSON</a></p>
<table class="report"><thead><tr><th>when</th><th>who</th><th>what</th><th>why</th><th>resource</th></tr></thead><tbody>
${rows.map((r) => html`<tr data-event-id="${r.eventId}"><td>${r.when}</td><td>${r.who} <span class="small">(${r.whoType})</span></td><td><code>${r.what}</code></td><td>${r.why}</td><td>${r.resource}</td></tr>`)}</tbody></table>`,
        ),
      );
    } catch (error) {
      return fail(c, 'Access report', error, form);
    }
  });
  app.get('/audit/report.csv', async (c) => {
    try {
      const patient = checkId('patient id', c.req.query('patient'));
      return c.body(accessReportCsv(await accessReport(patient)), 200, {
        'content-type': 'text/csv; charset=utf-8',
        'content-disposition': `attachment; filename="access-report-${patient.replace(/[^\w-]/g, '_')}.csv"`,
      });
    } catch (error) {
      return fail(c, 'Access report', error);
    }
  });
  app.get('/audit/report.json', async (c) => {
    try {
      const patient = checkId('patient id', c.req.query('patient'));
      c.header(
        'content-disposition',
        `attachment; filename="access-report-${patient.replace(/[^\w-]/g, '_')}.json"`,
      );
      return c.json({
        patientId: patient,
        generatedAt: new Date().toISOString(),
        accesses: await accessReport(patient),
      });
    } catch (error) {
      return fail(c, 'Access report', error);
    }
  });

  // ---- Consumers ----
  app.get('/consumers.json', async (c) => {
    lag.watch();
    return c.json(await lag.latest());
  });
  app.get('/consumers', async (c) => {
    lag.watch();
    const snap = await lag.sample();
    return c.html(
      page(
        'Consumers',
        html`<link rel="stylesheet" href="/assets/uplot.css"><p>Bus <b id="status">${snap.status}</b>, as of <span id="at">${snap.at}</span>${snap.error ? html`: <span class="error">${snap.error}</span>` : ''}. Refreshed every 5 s.</p>
<table class="consumers"><thead><tr><th>function</th><th>group</th><th>state</th><th>lag per topic</th><th>stalled</th><th>restarts</th></tr></thead>
<tbody id="consumer-rows">${snap.consumers.map(
          (k) =>
            html`<tr><td>${k.name}</td><td><code>${k.groupId}</code></td><td class="state-${k.state}">${k.state}</td><td>${Object.entries(
              k.lag,
            )
              .filter(([, n]) => n > 0)
              .map(
                ([t, n]) => html`<code>${t}</code> ${n}<br>`,
              )}${Object.values(k.lag).every((n) => n === 0) ? '0' : ''}</td><td>${k.stalled.length}</td><td>${k.restarts ?? ''}</td></tr>`,
        )}</tbody></table>
<h2>Lag, last minutes</h2><div id="lag-chart"></div>
<script src="/assets/uplot.js"></script><script src="/assets/consumers.js"></script>`,
      ),
    );
  });

  // ---- Catalog ----
  app.get('/catalog', (c) =>
    c.html(
      page(
        'Catalog',
        html`<p>Every topic of <code>shared/events/catalog.ts</code> (the AsyncAPI document, <code>docs/asyncapi.yaml</code>, is generated from it).</p>
<table class="catalog"><thead><tr><th>topic</th><th>fields (? optional)</th><th>key</th><th>PHI fields</th><th>resource</th><th>partitions / retention</th><th>read by</th></tr></thead><tbody>
${catalogRows().map((r) => html`<tr><td><code>${r.topic}</code><div class="small">${r.description}</div></td><td>${r.fields.join(', ')}</td><td>${r.key}</td><td class="phi-fields">${r.phi.join(', ') || '—'}</td><td>${r.resource}${r.patientField ? html`<div class="small">patient: ${r.patientField}</div>` : ''}</td><td>${r.partitions} / ${r.retentionDays} d</td><td>${r.consumers.join(', ')}</td></tr>`)}</tbody></table>`,
      ),
    ),
  );

  return app;
};
