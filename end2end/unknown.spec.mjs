// A console pointed at a separately started simulator through a config file, as against a real
// cluster; a component that fails must read unknown in the browser, never healthy.
import { test, expect } from '@playwright/test';
import { login, startSimAndConsole } from './helpers.mjs';

const CONSOLE = 'http://127.0.0.1:18081';
const CONTROL = 'http://127.0.0.1:19605';
let harness;

test.beforeAll(async () => {
  harness = await startSimAndConsole({
    prefix: 'bc-e2e-', seed: 15, basePort: 19600, control: CONTROL,
    listen: '127.0.0.1:18081', user: 'ops', role: 'operator',
  });
  expect(harness.cluster).toContain('[clusters.operate]');
  // The administrator's way to add a user: hash-password reads the password on stdin.
  expect(harness.hash).toMatch(/^\$argon2id\$/);
});

test.afterAll(() => { harness?.stop(); });

test.beforeEach(async ({ page }) => { await login(page, 'ops', CONSOLE); });

test('a failing component reads unknown in every set and in the overview', async ({ page }) => {
  await page.goto(`${CONSOLE}/clusters/sim/backups`);
  await expect(page.locator('#backups-table tbody tr.row').first()).toBeVisible();
  await expect(page.locator('.alert-error')).toHaveCount(0);

  const fault = { component: 'optimize', operation: 'any', action: { kind: 'status', status: 502 } };
  const r = await fetch(`${CONTROL}/sim/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(fault) });
  expect(r.status).toBe(204);

  await page.click('text=Refresh');
  await expect(page.locator('.alert-error')).toContainText('Optimize');
  await expect(page.locator('.alert-error')).toContainText('HTTP 502');
  const optimizeColumn = await page.locator('#backups-table tbody tr.row').evaluateAll(rows =>
    rows.map(r => r.querySelectorAll('td')[6].textContent.trim()));
  expect(new Set(optimizeColumn)).toEqual(new Set(['unknown']));
  await expect(page.locator('button[data-filter="restorable"]')).toHaveText('restorable (0)');

  await page.click('nav >> text=Overview');
  await expect(page.locator('#latest-restorable .stat-value')).toHaveText('none');
  await expect(page.locator('#health-table')).toContainText('degraded');

  await fetch(`${CONTROL}/sim/faults`, { method: 'DELETE' });
});

test('exporting left paused raises an alarm on the overview', async ({ page }) => {
  await fetch(`${CONTROL}/sim/exporting`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phase: 'SOFT_PAUSED' }) });
  await page.goto(`${CONSOLE}/clusters/sim`);
  await expect(page.locator('#exporting-alarm')).toContainText('partition 1 is SOFT_PAUSED');
  await fetch(`${CONTROL}/sim/exporting`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ phase: 'EXPORTING' }) });
  await page.reload();
  await expect(page.locator('#exporting-table')).toBeVisible();
  await expect(page.locator('#exporting-alarm')).toHaveCount(0);
});
