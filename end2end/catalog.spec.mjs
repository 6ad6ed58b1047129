// A 10,000-set history in the browser: the Backups page asks the server for the page it shows
// (filter, search and page in the query), never for the whole history, and the Overview for its
// figures only. Against its own simulator (seeded through its control API) and console.
import { test, expect } from '@playwright/test';
import { login, refreshCatalog, startSimAndConsole } from './helpers.mjs';

const CONSOLE = 'http://127.0.0.1:18094';
// `sim --base-port 19700` for 8.7: Zeebe first, the control endpoint last (+5).
const CONTROL = 'http://127.0.0.1:19705';
// CATALOG_SETS=100000 measures the first row on a year of 5-minute backups (BENCHMARKS.md).
const SETS = Number(process.env.CATALOG_SETS ?? 10_000);
const PER_PAGE = 25;
let harness;
// The sets the history lists: the seed also makes sets deleted everywhere, which no component lists.
let visible;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  // `seed: 0`: the simulator starts empty; the sets come from its control API.
  harness = await startSimAndConsole({
    prefix: 'bc-e2e-catalog-', seed: 0, basePort: 19700, control: CONTROL,
    listen: '127.0.0.1:18094', user: 'viewer', role: 'viewer',
  });
  const r = await fetch(`${CONTROL}/sim/seed`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ count: SETS, seed: 7 }),
  });
  expect(r.ok).toBe(true);
  const seeded = await r.json();
  expect(seeded.seeded).toBe(SETS);
  const deleted = Object.entries(seeded.kinds).filter(([k]) => k.toLowerCase() === 'deleted').reduce((n, [, v]) => n + v, 0);
  visible = SETS - deleted;
  // The console listed the empty simulator at start; the seeded sets come with its next refresh.
  const refreshed = await refreshCatalog(CONSOLE, 'sim', 'viewer');
  expect(refreshed.refreshed).toBe(true);
});

test.afterAll(() => { harness?.stop(); });

// Every history request the page makes (`/api/clusters/{c}/backups`, not a set's detail).
function watchHistory(page) {
  const seen = [];
  page.on('request', request => {
    const url = new URL(request.url());
    if (/^\/api\/clusters\/[^/]+\/backups$/.test(url.pathname)) seen.push(url);
  });
  return seen;
}

// None of them asked for the whole history: each carries `page` and `per_page`.
function expectOnlyPages(seen) {
  expect(seen.length).toBeGreaterThan(0);
  for (const url of seen) {
    expect(url.searchParams.has('page'), url.href).toBe(true);
    expect(url.searchParams.has('per_page'), url.href).toBe(true);
  }
}

const rowIds = page => page.locator('#backups-table tbody tr.row').evaluateAll(trs => trs.map(tr => tr.dataset.backupId));

test.beforeEach(async ({ page }) => { await login(page, 'viewer', CONSOLE); });

test('the first page of 10,000 sets: 25 rows, the pager, then page 2', async ({ page }) => {
  test.setTimeout(120_000);
  const seen = watchHistory(page);
  await page.goto(`${CONSOLE}/clusters/sim/backups`);
  // Measured in the page: from the start of the navigation to the first row drawn.
  const firstRow = await page.waitForFunction(
    () => document.querySelector('#backups-table tbody tr.row') ? performance.now() : null,
    null, { polling: 'raf', timeout: 90_000 });
  console.log(`catalog.spec: ${visible} sets listed, navigation to the first row: ${Math.round(await firstRow.jsonValue())} ms`);

  const rows = page.locator('#backups-table tbody tr.row');
  await expect(rows).toHaveCount(PER_PAGE);
  const pages = Math.ceil(visible / PER_PAGE);
  await expect(page.locator('#page-info')).toHaveText(`Page 1 of ${pages} · ${visible} matching of ${visible} sets`);
  const first = await rowIds(page);
  expect(first.map(Number)).toEqual([...first].map(Number).sort((a, b) => b - a));

  await page.click('#next-page');
  await expect(page).toHaveURL(/page=2/);
  await expect(page.locator('#page-info')).toContainText(`Page 2 of ${pages}`);
  await expect(rows.first()).not.toHaveAttribute('data-backup-id', first[0]);
  const second = await rowIds(page);
  expect(second).toHaveLength(PER_PAGE);
  expect(second.filter(id => first.includes(id))).toEqual([]);
  // Newest first across pages too.
  expect(Math.max(...second.map(Number))).toBeLessThan(Math.min(...first.map(Number)));

  expectOnlyPages(seen);
  expect(seen.some(u => u.searchParams.get('page') === '2')).toBe(true);
});

test('a verdict filter: every row has it and the counts add up', async ({ page }) => {
  const seen = watchHistory(page);
  await page.goto(`${CONSOLE}/clusters/sim/backups`);
  await expect(page.locator('#backups-table tbody tr.row')).toHaveCount(PER_PAGE);
  const count = async slug => Number((await page.locator(`button[data-filter="${slug}"]`).textContent()).match(/\((\d+)\)/)[1]);
  const slugs = ['restorable', 'restorable_partial', 'in_progress', 'not_restorable', 'unknown'];
  const counts = {};
  for (const slug of slugs) counts[slug] = await count(slug);
  expect(await count('all')).toBe(visible);
  expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(visible);

  const expected = counts.not_restorable;
  expect(expected).toBeGreaterThan(PER_PAGE);
  await page.click('button[data-filter="not_restorable"]');
  await expect(page).toHaveURL(/verdict=not_restorable/);
  await expect(page.locator('#page-info')).toHaveText(`Page 1 of ${Math.ceil(expected / PER_PAGE)} · ${expected} matching of ${visible} sets`);
  const verdicts = await page.locator('#backups-table tbody tr.row [data-verdict]').evaluateAll(els => els.map(e => e.dataset.verdict));
  expect(verdicts).toHaveLength(PER_PAGE);
  expect(new Set(verdicts)).toEqual(new Set(['not_restorable']));
  // The counts are over the whole history, whatever the filter.
  expect(await count('restorable')).toBe(counts.restorable);

  expectOnlyPages(seen);
  expect(seen.some(u => u.searchParams.get('verdict') === 'not_restorable')).toBe(true);
});

test('a search by digits: every shown ID contains them, asked once typing pauses', async ({ page }) => {
  const seen = watchHistory(page);
  await page.goto(`${CONSOLE}/clusters/sim/backups`);
  const rows = page.locator('#backups-table tbody tr.row');
  await expect(rows).toHaveCount(PER_PAGE);
  const digits = (await rowIds(page))[7].slice(4, 8);
  await page.locator('#search').pressSequentially(digits, { delay: 40 });
  await expect(page).toHaveURL(new RegExp(`q=${digits}`));
  await expect(page.locator('#page-info')).toContainText('Page 1 of');
  await expect(async () => {
    const ids = await rowIds(page);
    expect(ids.length).toBeGreaterThan(0);
    expect(ids.every(id => id.includes(digits)), ids.join(' ')).toBe(true);
  }).toPass();
  const matching = Number((await page.locator('#page-info').textContent()).match(/· (\d+) matching/)[1]);
  expect(matching).toBeLessThan(visible);
  // Not a request per keystroke.
  const searches = seen.filter(u => u.searchParams.has('q'));
  expect(searches.length).toBeLessThanOrEqual(2);
  expect(searches.at(-1).searchParams.get('q')).toBe(digits);
  expectOnlyPages(seen);
});

test('a deep link to a set far down the history opens it', async ({ page }) => {
  const seen = watchHistory(page);
  await page.goto(`${CONSOLE}/clusters/sim/backups?page=40`);
  await expect(page.locator('#page-info')).toContainText('Page 40 of');
  const id = (await rowIds(page))[3];
  await page.goto(`${CONSOLE}/clusters/sim/backups?id=${id}`);
  const panel = page.locator('#detail-panel');
  await expect(panel.locator('h2')).toContainText(id);
  await expect(panel.locator('[data-verdict]').first()).toBeVisible();
  await expect(page.locator('#backups-table tbody tr.row')).toHaveCount(PER_PAGE);
  expect(await rowIds(page)).not.toContain(id);
  expectOnlyPages(seen);
});

test('the Overview reads its figures from a one-set summary', async ({ page }) => {
  const seen = watchHistory(page);
  await page.goto(`${CONSOLE}/clusters/sim`);
  await expect(page.locator('#set-count')).toHaveText(String(visible));
  await expect(page.locator('#latest-restorable .stat-value')).toHaveText(/^\d{10}$/);
  expectOnlyPages(seen);
  expect(seen.every(u => u.searchParams.get('per_page') === '1')).toBe(true);
});

test('Refresh relists the catalog and the page says how fresh it is', async ({ page }) => {
  test.setTimeout(120_000);
  const seen = watchHistory(page);
  await page.goto(`${CONSOLE}/clusters/sim/backups`);
  await expect(page.locator('#backups-table tbody tr.row')).toHaveCount(PER_PAGE);
  await expect(page.locator('#catalog-age')).toContainText(/As of .+ ago/);

  const fault = { component: 'optimize', operation: 'any', action: { kind: 'status', status: 502 } };
  const r = await fetch(`${CONTROL}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fault) });
  expect(r.status).toBe(204);
  try {
    const refreshes = [];
    page.on('request', request => { if (request.url().endsWith('/api/clusters/sim/catalog/refresh')) refreshes.push(request.method()); });
    // Clicked twice at once, as people do: the second click sends nothing more.
    await page.evaluate(() => { const b = document.querySelector('#refresh-history'); b.click(); b.click(); });
    const warning = page.locator('#catalog-warnings li[data-component="Optimize"]');
    await expect(warning).toContainText('Last listed successfully:', { timeout: 90_000 });
    await expect(page.locator('#refresh-history')).toBeEnabled();
    expect(refreshes).toEqual(['POST']);
    const optimizeColumn = await page.locator('#backups-table tbody tr.row').evaluateAll(rows =>
      rows.map(r => r.querySelectorAll('td')[6].textContent.trim()));
    expect(new Set(optimizeColumn)).toEqual(new Set(['unknown']));
  } finally {
    await fetch(`${CONTROL}/sim/faults`, { method: 'DELETE' });
  }
  expectOnlyPages(seen);
});
