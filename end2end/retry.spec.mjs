// A cleanup that partly fails against a separately started simulator, recovered from the UI with
// "Retry failed" once the component is back.
import { test, expect } from '@playwright/test';
import { login, startSimAndConsole } from './helpers.mjs';

const CONSOLE = 'http://127.0.0.1:18082';
const CONTROL = 'http://127.0.0.1:19625';
let harness;

test.beforeAll(async () => {
  harness = await startSimAndConsole({
    prefix: 'bc-e2e-retry-', seed: 15, basePort: 19620, control: CONTROL,
    listen: '127.0.0.1:18082', user: 'admin', role: 'admin',
  });
});

test.afterAll(() => { harness?.stop(); });

test('a partial cleanup is reported per artifact and "Retry failed" completes it', async ({ page }) => {
  test.setTimeout(60_000);
  const fault = await fetch(`${CONTROL}/sim/faults`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ component: 'optimize', operation: 'delete', action: { kind: 'status', status: 500 } }),
  });
  expect(fault.ok).toBe(true);

  await login(page, 'admin', CONSOLE);
  await page.goto(`${CONSOLE}/clusters/sim/retention`);
  await page.fill('#keep-last', '2');
  await page.fill('#min-restorable', '1');
  await page.fill('#keep-failed', '0');
  await page.click('#save-policy');
  await expect(page.locator('#policy-source')).toContainText('saved by admin');
  const count = Number((await page.locator('#preview h2').textContent()).match(/(\d+) to delete/)[1]);
  expect(count).toBeGreaterThan(3);
  await page.fill('#confirm-count', String(count));
  await page.click('#delete-sets');

  const cleanup = page.locator('#cleanup');
  await expect(cleanup).toHaveAttribute('data-outcome', 'partial', { timeout: 30_000 });
  const failed = page.locator('#cleanup-items tr[data-state="failed"]');
  expect(await failed.count()).toBeGreaterThan(0);
  for (const text of await failed.allTextContents()) expect(text).toContain('Optimize');
  await expect(page.locator('#cleanup-items tr[data-state="deleted"]').first()).toBeVisible();

  expect((await fetch(`${CONTROL}/sim/faults`, { method: 'DELETE' })).status).toBe(204);
  const before = page.url();
  await page.click('#retry-failed');
  await expect(page).not.toHaveURL(before);
  await expect(page.locator('#cleanup')).toHaveAttribute('data-outcome', 'completed', { timeout: 30_000 });
  await expect(page.locator('#cleanup-summary')).toContainText('0 failed');
});
