// The Overview refreshes itself from the status poller: a pause made behind the console's back
// shows without a reload, and a refresh that fails marks what is shown as stale. Against its own
// simulator and console, with a 1 s server-side poll interval.
import { test, expect } from '@playwright/test';
import { login, startSimAndConsole } from './helpers.mjs';

const CONSOLE = 'http://127.0.0.1:18093';
// `sim --base-port 19680` for 8.7: Zeebe first, the control endpoint last (+5).
const ZEEBE = 'http://127.0.0.1:19680';
const CONTROL = 'http://127.0.0.1:19685';
let harness;

test.beforeAll(async () => {
  harness = await startSimAndConsole({
    prefix: 'bc-e2e-overview-', seed: 10, basePort: 19680, control: CONTROL,
    listen: '127.0.0.1:18093', user: 'admin', role: 'admin',
    extra: '[status]\npoll_interval_secs = 1\nprobe_timeout_secs = 1\n',
  });
});

test.afterAll(() => { harness?.stop(); });

test('a pause made behind its back shows without a reload, and a failed refresh reads stale', async ({ page }) => {
  test.setTimeout(90_000);
  await login(page, 'admin', CONSOLE);
  await page.goto(`${CONSOLE}/clusters/sim`);
  const table = page.locator('#exporting-table');
  await expect(table.locator('tbody tr')).toHaveCount(3);
  await expect(table).not.toContainText('PAUSED');
  await expect(page.locator('#status-line')).toContainText(/Status updated \d+ s ago/);
  await expect(page.locator('#health-table tbody tr[data-probe="reachable"]')).toHaveCount(5);
  // Any reload would lose this.
  await page.evaluate(() => { window.__sameDocument = true; });

  // Paused with Zeebe's own API, as a CLI run or another tool would do it.
  const paused = await fetch(`${ZEEBE}/actuator/exporting/pause`, { method: 'POST' });
  expect(paused.ok).toBe(true);
  await expect(page.locator('#exporting-alarm')).toContainText('partition 1 is PAUSED', { timeout: 15_000 });
  await expect(table).toContainText('PAUSED');
  await expect(page.locator('#exporting-card [data-action="resume"]')).toHaveClass(/btn-primary/);
  expect(await page.evaluate(() => window.__sameDocument)).toBe(true);

  // The console server stops answering the status: what is shown is marked stale, in words.
  await page.route('**/api/clusters/sim/status', route => route.abort());
  const stale = page.locator('#status-stale');
  await expect(stale).toBeVisible({ timeout: 15_000 });
  await expect(stale).toContainText('Stale: this status is from');
  await expect(stale).toContainText('The last refresh failed');
  await expect(page.locator('#exporting-card .badge-stale')).toHaveText('stale');
  await expect(page.locator('#components-card .badge-stale')).toHaveText('stale');
  await expect(page.locator('#exporting-card')).toHaveClass(/stale/);

  // Back: the next refresh clears it and shows the resumed phase.
  await fetch(`${ZEEBE}/actuator/exporting/resume`, { method: 'POST' });
  await page.unroute('**/api/clusters/sim/status');
  await expect(stale).toHaveCount(0, { timeout: 15_000 });
  await expect(page.locator('#status-line')).toBeVisible();
  await expect(page.locator('#exporting-alarm')).toHaveCount(0);
  await expect(table).not.toContainText('PAUSED');
  expect(await page.evaluate(() => window.__sameDocument)).toBe(true);
});
