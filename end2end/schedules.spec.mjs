// Part 8 in the browser: the fleet view, a schedule edited and paused, Run now, maintenance mode's
// banner, and a cluster past its RPO.
import { test, expect } from '@playwright/test';
import { login, startSimAndConsole } from './helpers.mjs';

test('the home page is the fleet view, one row per cluster', async ({ page }) => {
  await login(page);
  await page.goto('/');
  const rows = page.locator('#fleet-table tbody tr');
  await expect(rows).toHaveCount(4);
  for (const cluster of ['demo-87', 'demo-88', 'c89-rdbms', 'c810-rest']) {
    const row = page.locator(`#fleet-table tr[data-cluster="${cluster}"]`);
    // The demo's newest restorable sets are hours old, well inside the default 26 h.
    await expect(row).toHaveAttribute('data-rpo', 'ok');
    await expect(row).toContainText('within RPO');
    await expect(row).toContainText('objective 26 h');
    await expect(row).toContainText('EXPORTING');
  }
  await expect(page.locator('#fleet-updated')).toContainText('Updated');
  await page.click('#fleet-table a:text-is("demo-88")');
  await expect(page).toHaveURL(/\/clusters\/demo-88$/);
  await expect(page.locator('#rpo-state')).toContainText('within RPO');
  // The browser's back and forward buttons move between the pages, without a reload.
  await page.goBack();
  await expect(page.locator('h1')).toHaveText('Fleet');
  await page.goForward();
  await expect(page.locator('h1')).toHaveText('Overview');
  await expect(page.locator('nav a[aria-current="page"]')).toHaveText('Overview');
  await page.click('nav >> text=Schedules');
  await expect(page.locator('nav a[aria-current="page"]')).toHaveText('Schedules');
  // A page a cluster does not have says so inside the console's frame.
  await page.goto('/clusters/demo-88/nope');
  await expect(page.locator('h1')).toHaveText('Page not found');
  await expect(page.locator('#whoami')).toContainText('admin');
});

test('an admin saves a backup schedule, sees its next time, pauses it and removes it', async ({ page }) => {
  await login(page);
  await page.goto('/clusters/demo-87/schedules');
  const card = page.locator('#schedule-backup');
  // The end-to-end demo starts without a backup schedule.
  await expect(card.locator('.schedule-expression')).toHaveText('none');
  await expect(card.locator('.schedule-next')).toHaveText('no schedule');

  // A bad expression is refused with the reason and changes nothing.
  await card.locator('.schedule-input').fill('every day at 3');
  await card.locator('button:text-is("Save")').click();
  await expect(card.locator('.alert-error')).toBeVisible();
  await expect(card.locator('.schedule-expression')).toHaveText('none');

  // 03:17 on 29 February: a real next time that cannot come due while the tests run.
  await card.locator('.schedule-input').fill('17 3 29 2 *');
  await card.locator('button:text-is("Save")').click();
  await expect(card.locator('.schedule-expression')).toHaveText('17 3 29 2 *');
  await expect(card.locator('.schedule-next')).toContainText('-02-29 03:17 UTC');
  await expect(card).toContainText('saved in the console by admin');

  await card.locator('.schedule-toggle').click();
  await expect(card).toHaveAttribute('data-enabled', 'false');
  await expect(card.locator('.schedule-next')).toHaveText('paused');
  await card.locator('.schedule-toggle').click();
  await expect(card).toHaveAttribute('data-enabled', 'true');
  await expect(card.locator('.schedule-next')).toContainText('03:17 UTC');

  // The fleet view shows the same next time.
  await page.goto('/');
  await expect(page.locator('#fleet-table tr[data-cluster="demo-87"]')).toContainText('-02-29 03:17 UTC');

  await page.goto('/clusters/demo-87/schedules');
  await card.locator('.schedule-input').fill('');
  await card.locator('button:text-is("Save")').click();
  await expect(card.locator('.schedule-expression')).toHaveText('none');
});

test('Run now starts a backup, and the fleet view shows its outcome', async ({ page }) => {
  test.setTimeout(120_000);
  await login(page, 'operator');
  await page.goto('/clusters/demo-88/schedules');
  // Operators may run a backup, not edit a schedule.
  await expect(page.locator('#schedule-backup .schedule-input')).toHaveCount(0);
  await page.click('#schedule-backup .schedule-run-now');
  await expect(page).toHaveURL(/\/clusters\/demo-88\/backup\?run=\d+$/);
  const backupId = await page.locator('#run-backup-id').textContent();
  await expect(page.locator('#run-outcome')).toHaveAttribute('data-outcome', 'completed', { timeout: 90_000 });
  await page.goto('/');
  const row = page.locator('#fleet-table tr[data-cluster="demo-88"]');
  await expect(row).toContainText(`${backupId}: completed`);
  await expect(row).toContainText('manual');
});

test('maintenance mode shows a banner on every page of the cluster and refuses a run', async ({ page }) => {
  await login(page);
  await page.goto('/clusters/demo-87/schedules');
  await page.fill('#maintenance-reason', 'e2e restore rehearsal');
  await page.click('#maintenance-start');
  await expect(page.locator('#maintenance-state')).toHaveAttribute('data-on', 'true');
  const banner = page.locator('#maintenance-banner');
  await expect(banner).toContainText('demo-87 is in maintenance mode');
  await expect(banner).toContainText('e2e restore rehearsal');
  await expect(page.locator('#schedule-backup .schedule-next')).toHaveText(/no schedule|suspended/);

  await page.click('nav >> text=Backups');
  await expect(banner).toBeVisible();
  await page.click('nav >> text=Overview');
  await expect(banner).toBeVisible();
  await expect(page.locator('#next-backup')).toContainText('suspended by maintenance mode');
  // Another cluster has no banner.
  await page.goto('/clusters/demo-88');
  await expect(page.locator('#latest-restorable')).toBeVisible();
  await expect(banner).toHaveCount(0);

  await page.goto('/clusters/demo-87/schedules');
  await page.click('#schedule-backup .schedule-run-now');
  await expect(page.locator('#schedule-backup .alert-error')).toContainText('maintenance');
  await expect(page).toHaveURL(/\/schedules$/);

  await page.click('#maintenance-end');
  await expect(page.locator('#maintenance-state')).toHaveAttribute('data-on', 'false');
  await expect(banner).toHaveCount(0);
});

test.describe('a cluster past its RPO, with a notification channel', () => {
  const CONSOLE = 'http://127.0.0.1:18095';
  let harness;
  test.beforeAll(async () => {
    harness = await startSimAndConsole({
      prefix: 'bc-e2e-rpo-', seed: 15, basePort: 19720, control: 'http://127.0.0.1:19725',
      listen: '127.0.0.1:18095', user: 'ops', role: 'admin',
      // A receiver that is not there: every delivery fails, and its address must never show.
      extra: '[[notifications]]\nname = "ops-hook"\nkind = "webhook"\nurl = "http://127.0.0.1:9/hook-SECRET-TOKEN"\n',
      // The seeded history's newest restorable set is hours old: an objective of one hour is missed.
      clusterKeys: 'rpo_hours = 1\n',
    });
  });
  test.afterAll(() => { harness?.stop(); });

  test('the fleet view and the overview show the RPO breached', async ({ page }) => {
    await login(page, 'ops', CONSOLE);
    await page.goto(`${CONSOLE}/`);
    const row = page.locator('#fleet-table tr[data-cluster="sim"]');
    await expect(row).toHaveAttribute('data-rpo', 'breached');
    await expect(row).toContainText('RPO breached');
    await expect(row).toContainText('objective 1 h');
    await expect(row).toHaveAttribute('data-state', 'CRITICAL');
    await row.locator('a:text-is("sim")').click();
    await expect(page.locator('#latest-restorable')).toHaveClass(/stat-alarm/);
    await expect(page.locator('#rpo-state')).toContainText('RPO breached');
  });

  test('the fleet view lists the channel, and Send test reports a failure without its URL', async ({ page }) => {
    await login(page, 'ops', CONSOLE);
    await page.goto(`${CONSOLE}/`);
    const channel = page.locator('#channels-table tr[data-channel="ops-hook"]');
    await expect(channel).toContainText('webhook');
    await expect(channel).toContainText('url from the configuration file');
    await channel.locator('.send-test').click();
    await expect(channel.locator('.test-outcome')).toContainText('failed');
    await expect(page.locator('#notifications-card')).not.toContainText('SECRET-TOKEN');
    await expect(page.locator('#notifications-card')).not.toContainText('127.0.0.1:9');
  });
});
