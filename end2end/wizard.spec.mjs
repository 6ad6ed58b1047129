// The backup wizard on the demo, both API generations: preflight, ID, a live run on the server,
// the result, and the new set restorable in the history.
import { test, expect } from '@playwright/test';
import { login } from './helpers.mjs';

const FIRST_STEP = {
  'demo-87': 'Start the Operate backup',
  'demo-88': 'Soft-pause Zeebe exporting',
};

for (const cluster of ['demo-87', 'demo-88']) {
  test(`an operator runs the wizard to a restorable backup on ${cluster}`, async ({ page }) => {
    test.setTimeout(120_000);
    await login(page, 'operator');
    await page.goto(`/clusters/${cluster}`);
    await page.click('nav >> text=New backup');
    await expect(page).toHaveURL(new RegExp(`/clusters/${cluster}/backup$`));

    // 1. Preflight: every check passes on the healthy demo.
    const checks = page.locator('#preflight .check');
    await expect(checks.first()).toBeVisible();
    expect(await page.locator('#preflight .check[data-status="fail"]').count()).toBe(0);
    await expect(page.locator('#preflight')).toContainText('Exporting runs on every partition');
    await page.click('#to-plan');

    // 2. The ID: invalid input is refused before any call; the plan lists the documented order.
    const input = page.locator('#backup-id');
    const proposed = Number(await input.inputValue());
    expect(proposed).toBeGreaterThan(1_700_000_000);
    await input.fill('12abc');
    await expect(page.locator('#backup-id-error')).toContainText('digits only');
    await expect(page.locator('#start-backup')).toBeDisabled();
    await input.fill('5');
    await expect(page.locator('#backup-id-error')).toContainText('greater than');
    await expect(page.locator('#start-backup')).toBeDisabled();
    await expect(page.locator('#backup-id-help')).toContainText('never be reused');
    await input.fill(String(proposed));
    await expect(page.locator('#backup-id-error')).toHaveCount(0);
    const steps = page.locator('#plan-steps li');
    await expect(steps.first()).toHaveText(FIRST_STEP[cluster]);
    await expect(steps.last()).toHaveText('Resume Zeebe exporting');
    const stepCount = await steps.count();
    await page.click('#start-backup');

    // 3. Live progress, watched from the server: a reload lands on the same run.
    await expect(page).toHaveURL(/backup\?run=\d+$/);
    const runUrl = page.url();
    await expect(page.locator('#run-backup-id')).toHaveText(String(proposed));
    await expect(page.locator('#run-steps tbody tr')).toHaveCount(stepCount);
    await page.goto(`/clusters/${cluster}/backup`);
    await expect(page).toHaveURL(runUrl);
    // The pause counter runs while exporting is soft-paused.
    await expect(page.locator('#pause-counter .stat-label')).toHaveText(/soft-paused for/, { timeout: 30_000 });

    // 4. The result.
    await expect(page.locator('#run-outcome')).toHaveAttribute('data-outcome', 'completed', { timeout: 90_000 });
    await expect(page.locator('#run-steps tbody tr[data-state="done"]')).toHaveCount(stepCount);
    await expect(page.locator('#pause-counter .stat-label')).toHaveText('Exporting was soft-paused for');
    const script = page.locator('#download-script');
    await expect(script).toHaveAttribute('href', /\/api\/runs\/\d+\/script$/);
    const [download] = await Promise.all([page.waitForEvent('download'), script.click()]);
    expect(download.suggestedFilename()).toBe(`backup-${cluster}-${proposed}.sh`);

    await page.click('#run-outcome >> text=See the new set in the history');
    await expect(page).toHaveURL(new RegExp(`/clusters/${cluster}/backups\\?id=${proposed}$`));
    const panel = page.locator('#detail-panel');
    await expect(panel.locator('h2')).toContainText(String(proposed));
    await expect(panel.locator('[data-verdict="restorable"]')).toBeVisible();

    // Exporting is back on every partition.
    await page.goto(`/clusters/${cluster}`);
    await expect(page.locator('#exporting-table tbody tr')).toHaveCount(3);
    await expect(page.locator('#exporting-table')).not.toContainText('SOFT_PAUSED');
    await expect(page.locator('#exporting-alarm')).toHaveCount(0);
    await expect(page.locator('#latest-run')).toHaveAttribute('data-outcome', 'completed');
  });
}

test('a cancelled run resumes exporting and spends its ID', async ({ page }) => {
  test.setTimeout(90_000);
  await login(page, 'operator');
  await page.goto('/clusters/demo-88/backup');
  await page.click('#to-plan');
  await page.click('#start-backup');
  await expect(page.locator('#pause-counter .stat-label')).toHaveText(/soft-paused for/, { timeout: 30_000 });
  await page.click('#cancel-run');
  await page.click('#confirm-cancel');
  const outcome = page.locator('#run-outcome');
  await expect(outcome).toHaveAttribute('data-outcome', 'cancelled', { timeout: 30_000 });
  await expect(outcome).toContainText('cancelled by operator');
  await expect(outcome).toContainText('Exporting was resumed.');
  const spent = Number(await page.locator('#run-backup-id').textContent());
  await page.click('#another');
  await page.click('#to-plan');
  expect(Number(await page.locator('#backup-id').inputValue())).toBeGreaterThan(spent);
});

test('a viewer has no wizard', async ({ page }) => {
  await login(page, 'viewer');
  await page.goto('/clusters/demo-87');
  await expect(page.locator('nav')).not.toContainText('New backup');
  await page.goto('/clusters/demo-87/backup');
  await expect(page.locator('.alert-error')).toContainText('operator or admin role');
  await expect(page.locator('#preflight')).toHaveCount(0);
});
