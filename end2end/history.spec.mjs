// Backup history on the demo: seeded 8.7 and 8.8 clusters.
import { test, expect } from '@playwright/test';
import { login } from './helpers.mjs';

test.beforeEach(async ({ page }) => { await login(page, 'viewer'); });

test('the console opens on the fleet view, which leads to a cluster overview', async ({ page }) => {
  await page.goto('/');
  await expect(page.locator('h1')).toHaveText('Fleet');
  await page.click('#fleet-table a:text-is("demo-87")');
  await expect(page).toHaveURL(/\/clusters\/demo-87$/);
  await expect(page.locator('h1')).toHaveText('Overview');
  const latest = page.locator('#latest-restorable .stat-value');
  await expect(latest).toHaveText(/^\d{10}$/);
  await expect(page.locator('#exporting-table tbody tr')).toHaveCount(3);
  await expect(page.locator('#health-table tbody tr')).toHaveCount(5);
  await expect(page.locator('#health-table')).not.toContainText('unreachable');
});

test('the backups table lists seeded sets newest first with one page rendered', async ({ page }) => {
  await page.goto('/clusters/demo-87/backups');
  const rows = page.locator('#backups-table tbody tr.row');
  await expect(rows).toHaveCount(25);
  await expect(page.locator('#page-info')).toHaveText(/Page 1 of \d+ · \d+ matching of \d+ sets/);
  const ids = await rows.evaluateAll(trs => trs.map(tr => Number(tr.dataset.backupId)));
  expect(ids).toEqual([...ids].sort((a, b) => b - a));
  // One state badge per component column: Zeebe, Operate, Tasklist, Optimize, records snapshot.
  await expect(rows.first().locator('td .badge')).toHaveCount(6);

  const first = ids[0];
  await page.click('#next-page');
  await expect(page).toHaveURL(/page=2/);
  await expect(rows.first()).not.toHaveAttribute('data-backup-id', String(first));
  await page.goBack();
  await expect(rows.first()).toHaveAttribute('data-backup-id', String(first));
});

test('filtering by verdict shows only that verdict and keeps it in the URL', async ({ page }) => {
  await page.goto('/clusters/demo-87/backups');
  const chip = page.locator('button[data-filter="not_restorable"]');
  const label = await chip.textContent();
  const expected = Number(label.match(/\((\d+)\)/)[1]);
  expect(expected).toBeGreaterThan(0);
  await chip.click();
  await expect(page).toHaveURL(/verdict=not_restorable/);
  await expect(page.locator('#page-info')).toContainText(`${expected} matching`);
  const verdicts = await page.locator('#backups-table tbody tr.row [data-verdict]').evaluateAll(els => els.map(e => e.dataset.verdict));
  expect(verdicts.length).toBe(Math.min(expected, 25));
  expect(new Set(verdicts)).toEqual(new Set(['not_restorable']));
  // Every non-restorable row says why.
  const reasons = await page.locator('#backups-table tbody tr.row td.why').allTextContents();
  expect(reasons.every(r => r.trim().length > 0)).toBe(true);
  // Reloading keeps the filter.
  await page.reload();
  await expect(page.locator('button[data-filter="not_restorable"]')).toHaveClass(/active/);
});

test('searching by ID narrows the table', async ({ page }) => {
  await page.goto('/clusters/demo-87/backups');
  const rows = page.locator('#backups-table tbody tr.row');
  const id = await rows.nth(3).getAttribute('data-backup-id');
  await page.fill('#search', id);
  await expect(rows).toHaveCount(1);
  await expect(rows.first()).toHaveAttribute('data-backup-id', id);
  await page.fill('#search', '999999999999');
  await expect(rows).toHaveCount(0);
  await expect(page.locator('#backups-table')).toContainText('No backup set matches.');
});

test('a detail panel shows every partition and snapshot part', async ({ page }) => {
  await page.goto('/clusters/demo-87/backups?verdict=restorable');
  const row = page.locator('#backups-table tbody tr.row').first();
  const id = await row.getAttribute('data-backup-id');
  await row.click();
  await expect(page).toHaveURL(new RegExp(`id=${id}`));
  const panel = page.locator('#detail-panel');
  await expect(panel.locator('h2')).toContainText(id);
  await expect(panel.locator('[data-verdict="restorable"]')).toBeVisible();
  await expect(panel.locator('.partitions tbody tr')).toHaveCount(3);
  await expect(panel.locator('.partitions')).toContainText('COMPLETED');
  await expect(panel.locator('[data-component="Operate"] .parts tbody tr')).toHaveCount(6);
  await expect(panel.locator('[data-component="Optimize"] .parts tbody tr')).toHaveCount(2);
  await expect(panel.locator('[data-component="records_snapshot"] .parts')).toContainText(`camunda_zeebe_records_backup_${id}`);
  await page.click('#close-detail');
  await expect(panel).toHaveCount(0);
  await expect(page).not.toHaveURL(/id=/);
});

test('a failed set explains itself in the detail panel', async ({ page }) => {
  await page.goto('/clusters/demo-87/backups?verdict=not_restorable');
  await page.locator('#backups-table tbody tr.row').first().click();
  const panel = page.locator('#detail-panel');
  await expect(panel.locator('[data-verdict="not_restorable"]')).toBeVisible();
  await expect(panel.locator('.reasons li').first()).toHaveText(/failed|incomplete|no backup with this ID/);
});

test('switching to the 8.8 cluster shows web apps as one component', async ({ page }) => {
  await page.goto('/clusters/demo-87/backups');
  await page.selectOption('#cluster-switcher', 'demo-88');
  await expect(page).toHaveURL(/\/clusters\/demo-88\/backups$/);
  await expect(page.locator('#backups-table thead')).toContainText('Web apps');
  await expect(page.locator('#backups-table thead')).not.toContainText('Operate');
  await expect(page.locator('#backups-table tbody tr.row')).toHaveCount(25);
});

test('an unknown cluster shows an error, not an empty history', async ({ page }) => {
  await page.goto('/clusters/nope/backups');
  await expect(page.locator('.alert-error')).toContainText('no cluster named `nope` is configured');
});
