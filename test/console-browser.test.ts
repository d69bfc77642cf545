import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { startDemo, type RunningDemo } from '../simulators/demo/index.ts';
import { createToken } from '../src/governance/index.ts';
import type { Kpis } from '../src/observability/kpis.ts';
import { recordKpiSnapshots } from '../src/observability/kpi-history.ts';
import { ensureConsoleBuilt } from './support/console-build.ts';
import { createTestDatabase, embeddedTarget, type TestDatabase } from './support/databases.ts';
import { waitFor } from './support/engine-harness.ts';

// The console in a real browser (Debian's chromium driven by playwright-core) against the running demo: the
// three-site network with its simulators, a fast scenario driver, the engine serving the console at /.
// Screenshots of each main screen go to test-output/console/.

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = path.join(process.cwd(), 'test-output', 'console');
const ADMIN = 'console-test-admin-token-0123456789';
// pages refresh on their own timers: give each expectation time to come true
const poll = <T>(probe: () => Promise<T> | T) => expect.poll(probe, { timeout: 20_000, interval: 200 });

describe('web console in a browser, against the demo', () => {
  let db: TestDatabase;
  let demo: RunningDemo;
  let browser: BrowserContext;
  let page: Page;
  let base: string;
  let userDataDir: string;
  const outside: string[] = [];

  const shot = async (name: string) => {
    await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: false });
  };
  const sql = async <T>(text: string, values: unknown[] = []): Promise<T[]> => (await db.pool.query(text, values)).rows as T[];
  const apiAs = async <T>(token: string, query: string, init: RequestInit = {}): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${base}${query}`, { ...init, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...(init.headers ?? {}) } });
    return { status: response.status, body: (await response.json()) as T };
  };

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)`);
    // npm install (prepare) builds the console; rebuilt here when a source is newer than that bundle
    ensureConsoleBuilt();
    mkdirSync(SHOTS, { recursive: true });
    db = await createTestDatabase(embeddedTarget(), 4);
    demo = await startDemo({
      ...process.env,
      DATABASE_URL: db.url,
      CARELANE_ADMIN_TOKEN: ADMIN,
      PORT: '0',
      MLLP_PORT: '0',
      CARELANE_DEMO_X12_PORT: '0',
      CARELANE_DEMO_FHIR_PORT: '0',
      CARELANE_DEMO_INTERVAL_MS: '700',
      LOG_LEVEL: 'silent',
      CARELANE_CONFIG: '',
    });
    base = demo.carelane.httpUrl;
    userDataDir = mkdtempSync(path.join(os.tmpdir(), 'carelane-chromium-'));
    // a fresh profile each run (playwright passes it as --user-data-dir)
    browser = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      viewport: { width: 1280, height: 800 },
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    browser.on('request', (request) => {
      if (!request.url().startsWith(base) && !request.url().startsWith('data:')) outside.push(request.url());
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await demo?.stop();
    await db?.drop();
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
  });

  it('signs in with an API token (a wrong one is refused) and shows the technical view with live numbers', { timeout: 120_000 }, async () => {
    await page.goto(base);
    await page.getByLabel('API token or OpenID Connect access token').fill('not-a-real-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await poll(() => page.getByRole('alert').textContent()).toMatch(/unknown|expired|revoked/);
    await shot('01-login');

    await page.getByLabel('API token or OpenID Connect access token').fill(ADMIN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Technical view' }).waitFor();
    await poll(() => page.locator('header .who').textContent()).toContain('admin');
    // steps done by the demo show up in the lanes table and the throughput chart
    await waitFor(async () => (await sql<{ n: number }>(`select count(*)::int as n from carelane.deliveries where status = 'done'`))[0]!.n > 20, 60_000, 'demo steps done');
    await page.getByLabel('Window').selectOption('15');
    await poll(async () => page.locator('table tbody tr').filter({ hasText: 'critical' }).count()).toBeGreaterThan(0);
    await poll(async () => (await page.locator('.chart polyline, .chart circle').count()) > 0).toBe(true);
    await shot('02-technical');
  });

  it('finds the messages of a purchase order by its PO number', { timeout: 240_000 }, async () => {
    const po = await waitFor(async () => (await sql<{ name: string; correlation_id: string }>(`select name, correlation_id from carelane.purchase_orders where name is not null limit 1`))[0], 150_000, 'a purchase order with its Odoo number');
    const expected = await sql<{ id: number | string }>(
      `select id from carelane.messages where correlation_id = $1
          or correlation_id in (select related_id from carelane.transaction_links where correlation_id = $1 union select correlation_id from carelane.transaction_links where related_id = $1)`,
      [po.correlation_id],
    );
    expect(expected.length, 'messages behind the PO').toBeGreaterThan(0);

    await page.getByRole('link', { name: 'Messages' }).click();
    await page.getByLabel('Business key').fill(po.name);
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    const firstLink = page.locator('table tbody tr td a[href^="#/messages/"]').first();
    await firstLink.waitFor({ timeout: 15_000 });
    const shown = await page.locator('table tbody tr td a[href^="#/messages/"]').allTextContents();
    const shownIds = shown.map((text) => text.replace('#', ''));
    const why = async () =>
      JSON.stringify({
        po,
        expected: expected.map((e) => e.id),
        shown: await sql(
          `select m.id, m.message_type, m.correlation_id,
                  exists (select 1 from carelane.deliveries d where d.message_id = m.id and strpos(d.payload::text, $2) > 0) as in_steps,
                  exists (select 1 from carelane.message_stages s where s.message_id = m.id and strpos(s.detail::text, $2) > 0) as in_stages
           from carelane.messages m where m.id = any($1::bigint[])`,
          [shownIds, po.name],
        ),
        links: await sql('select * from carelane.transaction_links'),
      });
    if (!shownIds.some((id) => expected.some((e) => String(e.id) === id))) throw new Error(`the PO's own messages are not among those shown: ${await why()}`);
    await shot('03-messages-by-po');

    // the demand behind it: an HL7 or FHIR message, its stages, payload masked by default
    const demandId = expected.map((e) => String(e.id)).find((id) => shownIds.includes(id))!;
    await page.locator(`a[href="#/messages/${demandId}"]`).first().click();
    await page.getByRole('heading', { name: new RegExp(`Message #${demandId}`) }).waitFor();
    await poll(() => page.locator('.stages li').count()).toBeGreaterThan(1);
    const payload = (await page.getByLabel('Payload').textContent()) ?? '';
    const [stored] = await sql<{ payload: Buffer; message_type: string }>('select payload, message_type from carelane.messages where id = $1', [demandId]);
    if (stored!.payload.toString('utf8').startsWith('MSH')) {
      const pid = stored!.payload.toString('utf8').split('\r').find((s) => s.startsWith('PID'));
      if (pid) {
        expect(payload).toMatch(/PID\|[^\n]*\*\*\*/);
        for (const field of pid.split('|').slice(3).filter((f) => f.length > 3)) expect(payload).not.toContain(field);
      }
    }
    await shot('04-message-detail');

    await page.locator('dd a[href^="#/transactions/"]').click();
    await page.getByRole('heading', { name: /Transaction/ }).waitFor();
    await poll(() => page.locator('.timeline li').count()).toBeGreaterThan(2);
    await shot('05-transaction-timeline');
  });

  it('replays an exception from the work queue, with a note, audited', { timeout: 150_000 }, async () => {
    const exception = await waitFor(
      async () => (await sql<{ id: string; type: string }>(`select id, type from carelane.exceptions where status = 'open' and delivery_id is not null order by (type = 'mapping_failure'), id limit 1`))[0],
      90_000,
      'an open exception with a parked step',
    );
    await page.goto(`${base}/#/exceptions`);
    await page.getByRole('heading', { name: 'Exception work queues' }).waitFor();
    await page.getByRole('button', { name: `Replay exception ${exception.id}`, exact: true }).click();
    await page.getByLabel('Note (why — kept in the audit trail)').fill('console test: replay after checking the runbook');
    await shot('06-exceptions-replay-dialog');
    await page.locator('form.panel').getByRole('button', { name: 'Replay' }).click();
    await poll(() => page.getByRole('status').textContent()).toContain(`Exception #${exception.id}: Replay: done`);

    const [resolved] = await sql<{ status: string; resolution_action: string; resolved_by: string; resolution_note: string }>('select status, resolution_action, resolved_by, resolution_note from carelane.exceptions where id = $1', [exception.id]);
    expect(resolved).toEqual({ status: 'resolved', resolution_action: 'replay', resolved_by: 'token:admin', resolution_note: 'console test: replay after checking the runbook' });
    const audit = await sql<{ actor: string }>(`select actor from carelane.audit_log where action = 'exception.replay' and target_id = $1`, [exception.id]);
    expect(audit).toEqual([{ actor: 'token:admin' }]);
    await page.getByLabel('Status').selectOption('resolved');
    await poll(() => page.locator('table tbody').textContent()).toContain('console test: replay after checking the runbook');
    await shot('07-exceptions-resolved-audit');
  });

  it('adds a missing mapping inline and the parked messages complete', { timeout: 240_000 }, async () => {
    const waiting = await waitFor(
      async () => {
        const rows = await sql<{ id: string; message_id: string }>(`select id, message_id from carelane.exceptions where status = 'open' and type = 'mapping_failure' and detail::text like '%SPONGE-LAP-18%'`);
        return rows.length > 0 ? rows : undefined;
      },
      90_000,
      'a supply request parked for the unknown code SPONGE-LAP-18',
    );
    const gauze = await apiAs<{ mappings: Array<{ odooProductId: number }> }>(ADMIN, '/api/v1/crosswalks/items?ehrCode=GAUZE-4X4');
    const productId = gauze.body.mappings[0]!.odooProductId;

    await page.getByRole('link', { name: 'Mapping failures' }).click();
    const add = page.getByRole('button', { name: 'Add mapping for item SPONGE-LAP-18' });
    await add.waitFor({ timeout: 20_000 });
    await add.click();
    await page.getByLabel('Odoo product id *').fill(String(productId));
    await shot('08-mapping-failures-add');
    await page.getByRole('button', { name: 'Save mapping and replay' }).click();
    await poll(() => page.getByRole('status').textContent()).toMatch(/Mapping for SPONGE-LAP-18 created; [1-9]\d* parked message\(s\) replayed/);

    // every message that waited was replayed by the new mapping: its mapping_failure closed, and it went on
    // through the demand flow to the end — processed, or parked for a business reason of its own (the demo sends
    // the same ward request again and again: those are duplicate_order, as they should be)
    const ids = waiting.map((w) => w.message_id);
    let statuses = '';
    await waitFor(async () => {
      const rows = await sql<{ id: string; status: string }>('select id, status from carelane.messages where id = any($1::bigint[])', [ids]);
      statuses = rows.map((r) => `${r.id}:${r.status}`).join(' ');
      return rows.every((r) => r.status === 'processed' || r.status === 'failed') || undefined;
    }, 90_000, 'the parked supply requests settled').catch((error: Error) => {
      throw new Error(`${error.message} (now ${statuses})`);
    });
    const closed = await sql<{ resolution_action: string }>(`select resolution_action from carelane.exceptions where id = any($1::bigint[])`, [waiting.map((w) => w.id)]);
    expect(new Set(closed.map((c) => c.resolution_action))).toEqual(new Set(['replay']));
    const stillUnmapped = await sql<{ n: number }>(`select count(*)::int as n from carelane.exceptions where message_id = any($1::bigint[]) and status = 'open' and type = 'mapping_failure'`, [ids]);
    expect(stillUnmapped[0]!.n).toBe(0);
    const otherReasons = await sql<{ type: string }>(
      `select distinct e.type from carelane.messages m join carelane.exceptions e on e.message_id = m.id and e.status = 'open' where m.id = any($1::bigint[]) and m.status = 'failed'`,
      [ids],
    );
    for (const { type } of otherReasons) expect(type, statuses).not.toBe('mapping_failure');
    // each failed one is parked for a reason of its own, named by an open exception
    const failedWithoutReason = await sql<{ id: string }>(
      `select m.id from carelane.messages m where m.id = any($1::bigint[]) and m.status = 'failed' and not exists (select 1 from carelane.exceptions e where e.message_id = m.id and e.status = 'open')`,
      [ids],
    );
    expect(failedWithoutReason, statuses).toEqual([]);
    await poll(async () => page.getByRole('button', { name: 'Add mapping for item SPONGE-LAP-18' }).count()).toBe(0);
    await shot('09-mapping-failures-after');
  });

  it('reads the executive view: the four supply KPIs (or an honest "no data yet") and exceptions by type and age', async () => {
    // The running demo opens and closes exceptions all the time (acknowledgment waits close by themselves): the
    // chart is checked against the open exceptions the view fetched, not against a query made a moment apart.
    const openFetched = page.waitForResponse((response) => response.url().includes('/api/v1/exceptions?status=open'));
    await page.getByRole('link', { name: 'Executive' }).click();
    const openTypes = [...new Set(((await (await openFetched).json()) as { exceptions: Array<{ type: string }> }).exceptions.map((e) => e.type))];
    await page.getByRole('heading', { name: 'Executive view' }).waitFor();
    for (const label of ['Stockout risk', 'Procurement cycle time', 'Order acknowledgment latency', 'Invoice match rate']) {
      const card = page.locator('.card').filter({ hasText: label });
      await poll(() => card.locator('.card-value').textContent()).not.toBe('…');
    }
    const kpiRoute = await fetch(`${base}/api/v1/kpis`, { headers: { authorization: `Bearer ${ADMIN}` } });
    const values = await page.locator('.card .card-value').allTextContents();
    if (kpiRoute.status === 404) {
      expect(values.slice(0, 4)).toEqual(['no data yet', 'no data yet', 'no data yet', 'no data yet']);
    } else {
      // each card shows the API's figure, or says there is none
      const kpis = (await kpiRoute.json()) as { procurementCycleTimeHours: number | null; orderAcknowledgmentLatencyMinutes: number | null; invoiceFirstPassMatchRate: number | null; stockoutRisk: Array<{ atRisk: boolean | null }>; stockoutRiskUnavailable: unknown[] };
      const expected = (value: number | null, unit: string) => (value === null ? 'no data yet' : `${value.toFixed(1)} ${unit}`);
      expect(values[1]).toBe(expected(kpis.procurementCycleTimeHours, 'h'));
      expect(values[2]).toBe(expected(kpis.orderAcknowledgmentLatencyMinutes, 'min'));
      expect(values[3]).toBe(expected(kpis.invoiceFirstPassMatchRate, '%'));
      // items whose stock could not be read from Odoo are not counted either way
      const rated = kpis.stockoutRisk.filter((r) => r.atRisk !== null);
      expect(values[0]).toBe(rated.length ? `${rated.filter((r) => r.atRisk).length} of ${rated.length} items` : kpis.stockoutRiskUnavailable.length ? 'unavailable' : 'no data yet');
    }
    const bars = page.locator('figure').filter({ hasText: 'Open exceptions by type and age' });
    for (const type of openTypes) await poll(() => bars.textContent()).toContain(type.replaceAll('_', ' '));
    await shot('10-executive');
  });

  it('reads the executive KPIs over time: a line per site and one for the network, from the stored daily snapshots', { timeout: 60_000 }, async () => {
    // today's snapshot from what the demo did so far: the kpi-snapshots job's work, run now instead of at its
    // hour, over the KPIs the engine serves (with Odoo's on-hand stock); the six days before are history
    // fixtures, as earlier runs of the job would have left
    const served = async () => (await apiAs<Kpis>(ADMIN, '/api/v1/kpis')).body;
    const today = await recordKpiSnapshots(db.pool, served);
    const sites = today.flatMap((s) => (s.site ? [s.site] : []));
    expect(sites.length, 'the demo\'s sites have purchase orders or demands by now').toBeGreaterThan(1);
    for (let back = 6; back >= 1; back -= 1) {
      for (const [index, site] of [null, ...sites].entries()) {
        await db.pool.query(
          `insert into carelane.kpi_snapshots (day, site, window_days, order_ack_latency_minutes, procurement_cycle_hours, invoice_first_pass_match_rate, items_watched, items_at_risk)
           values (current_date - $1::int, $2, 30, $3, $4, $5, 10, $6) on conflict do nothing`,
          [back, site ?? '', 20 + back * 4 + index * 7, 30 + back * 2 + index, 70 + index * 5 - back, index + (back % 2)],
        );
      }
    }
    const history = await apiAs<{ sites: string[]; snapshots: Array<{ day: string; site: string | null; orderAcknowledgmentLatencyMinutes: number | null; invoiceFirstPassMatchRate: number | null }> }>(ADMIN, '/api/v1/kpis/history?days=30');
    expect(history.body.sites).toEqual(sites);

    await page.goto(`${base}/#/ops`);
    await page.getByRole('link', { name: 'Executive' }).click();
    const section = page.locator('section.kpi-history');
    await section.getByRole('heading', { name: 'Over time, per site' }).waitFor();
    const ack = section.locator('figure').filter({ hasText: 'Order acknowledgment latency (min)' });
    await poll(() => ack.locator('.legend li').allTextContents()).toEqual(['All sites', ...sites]);
    // one line per series with at least two days of data; the chart's text alternative names each latest figure
    const withData = (site: string | null) => history.body.snapshots.filter((s) => s.site === site && s.orderAcknowledgmentLatencyMinutes !== null);
    const lines = [null, ...sites].filter((site) => withData(site).length > 1).length;
    expect(await ack.locator('polyline').count()).toBe(lines);
    const label = (await ack.locator('svg').getAttribute('aria-label')) ?? '';
    for (const site of [null, ...sites]) {
      const last = withData(site).at(-1);
      if (last) expect(label).toContain(`${site ?? 'All sites'} ${last.orderAcknowledgmentLatencyMinutes!.toFixed(1)} min on ${last.day}`);
    }
    // the same figures as a table, for those who do not read charts
    await section.getByText('The figures as a table').click();
    const yesterday = history.body.snapshots.filter((s) => s.site === sites[0] && s.day < today[0]!.day).at(-1)!;
    const row = section.locator('tbody tr').filter({ hasText: yesterday.day }).filter({ has: page.getByRole('rowheader', { name: sites[0]!, exact: true }) });
    await poll(() => row.locator('td').allTextContents()).toEqual([yesterday.day, yesterday.orderAcknowledgmentLatencyMinutes!.toFixed(1), expect.any(String), yesterday.invoiceFirstPassMatchRate!.toFixed(1), expect.any(String), '—']);
    await section.getByText('The figures as a table').click();
    await section.screenshot({ path: path.join(SHOTS, '10b-executive-kpis-over-time.png') });
  });

  it('shows the configuration read-only, without secrets', async () => {
    await page.getByRole('link', { name: 'Configuration' }).click();
    await page.getByRole('heading', { name: 'Flows and their mode' }).waitFor();
    const text = (await page.locator('main').textContent()) ?? '';
    expect(text).toContain('odoo-demo');
    expect(text).toContain('orchestrated');
    const secrets = JSON.parse(readFileSync(path.join(process.cwd(), 'var', 'demo-secrets.json'), 'utf8')) as Record<string, string>;
    const config = await apiAs<unknown>(ADMIN, '/api/v1/config');
    const body = JSON.stringify(config.body);
    for (const secret of [...Object.values(secrets), 'sim-admin-api-key', ADMIN]) {
      expect(body).not.toContain(secret.replace(/^Bearer /, ''));
      expect(text).not.toContain(secret.replace(/^Bearer /, ''));
    }
    await shot('11-configuration');
  });

  it('is keyboard usable: skip link first, labelled controls, real buttons; and usable on a tablet', async () => {
    await page.goto(`${base}/#/exceptions`);
    await page.reload();
    await page.getByRole('heading', { name: 'Exception work queues' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Skip to content');
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Technical');
    // the skip link moves focus to the content and stays on this screen (the route lives in the hash)
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Enter');
    expect(await page.evaluate('document.activeElement?.id')).toBe('main');
    expect(new URL(page.url()).hash).toBe('#/exceptions');
    await page.getByRole('heading', { name: 'Exception work queues' }).waitFor();
    // (browser-side code as text: this file is typed for Node, without the DOM library)
    // every screen: each control has a label, each button a name, nothing clickable that is not a control
    for (const [route, heading] of [['exceptions', 'Exception work queues'], ['ops', 'Technical view'], ['messages', 'Messages'], ['mappings', 'Mapping failures'], ['executive', 'Executive view'], ['config', 'Flows and their mode']] as const) {
      await page.goto(`${base}/#/${route}`);
      await page.getByRole('heading', { name: heading }).first().waitFor();
      const unlabelled = await page.evaluate(
        `[...document.querySelectorAll('input, select, textarea')].filter((el) => el.labels?.length === 0 && !el.getAttribute('aria-label')).map((el) => el.outerHTML)`,
      );
      expect(unlabelled, route).toEqual([]);
      const nameless = await page.evaluate(`[...document.querySelectorAll('button, a[href]')].filter((el) => !(el.textContent ?? '').trim() && !el.getAttribute('aria-label')).map((el) => el.outerHTML)`);
      expect(nameless, route).toEqual([]);
      expect(await page.locator('div[onclick], span[onclick]').count(), route).toBe(0);
    }

    await page.setViewportSize({ width: 820, height: 1180 });
    await page.goto(`${base}/#/ops`);
    await page.getByRole('heading', { name: 'Technical view' }).waitFor();
    const overflow = await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth');
    expect(overflow, 'no horizontal scrolling of the page on a tablet').toBeLessThanOrEqual(0);
    await shot('12-tablet-technical');
    await page.goto(`${base}/#/exceptions`);
    await page.getByRole('heading', { name: 'Exception work queues' }).waitFor();
    await shot('13-tablet-exceptions');
    await page.goto(`${base}/#/executive`);
    await page.getByRole('heading', { name: 'Over time, per site' }).waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth - document.documentElement.clientWidth'), 'executive view on a tablet').toBeLessThanOrEqual(0);
    await page.locator('section.kpi-history').screenshot({ path: path.join(SHOTS, '14-tablet-executive-over-time.png') });
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('a viewer sees no actions, and the server refuses them anyway', async () => {
    const viewer = await createToken(db.pool, 'console-viewer', 'viewer');
    // a second tab: its own sessionStorage, so its own sign-in
    const viewerPage = await browser.newPage();
    await viewerPage.goto(base);
    await viewerPage.getByLabel('API token or OpenID Connect access token').fill(viewer);
    await viewerPage.getByRole('button', { name: 'Sign in' }).click();
    await viewerPage.getByRole('heading', { name: 'Technical view' }).waitFor();
    await viewerPage.getByRole('link', { name: 'Exceptions' }).click();
    await viewerPage.getByRole('heading', { name: 'Exception work queues' }).waitFor();
    await poll(() => viewerPage.locator('table tbody').textContent()).toMatch(/read only|Nothing in this queue/);
    expect(await viewerPage.getByRole('button', { name: /^Replay exception/ }).count()).toBe(0);
    await viewerPage.close();

    const [open] = await sql<{ id: string }>(`select id from carelane.exceptions where status = 'open' limit 1`);
    if (open) expect((await apiAs(viewer, `/api/v1/exceptions/${open.id}/replay`, { method: 'POST', body: JSON.stringify({ note: 'try' }) })).status).toBe(403);
    expect((await apiAs(viewer, '/api/v1/replay', { method: 'POST', body: JSON.stringify({ messageIds: [1], dryRun: true, reason: 'try' }) })).status).toBe(403);
  });

  it('made no request to any other origin (fonts and scripts are bundled)', () => {
    expect(outside).toEqual([]);
  });
});
