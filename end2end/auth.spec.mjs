// Logging in, what each role sees, and the audit trail of this very run.
import { test, expect } from '@playwright/test';
import { login, PASSWORD } from './helpers.mjs';

test('an anonymous visitor is sent to the login page and back after logging in', async ({ page }) => {
  await page.goto('/clusters/demo-88/backups?verdict=restorable');
  await expect(page).toHaveURL(/\/login\?next=/);
  await page.fill('#username', 'viewer');
  await page.fill('#password', 'not the password');
  await page.click('#login-submit');
  await expect(page.locator('#login-error')).toHaveText('invalid user name or password');
  await page.fill('#username', 'nobody');
  await page.click('#login-submit');
  await expect(page.locator('#login-error')).toHaveText('invalid user name or password');
  await page.fill('#username', 'viewer');
  await page.fill('#password', PASSWORD);
  await page.click('#login-submit');
  await expect(page).toHaveURL(/\/clusters\/demo-88\/backups\?verdict=restorable$/);
  await expect(page.locator('#whoami')).toContainText('viewer');
});

test('a viewer sees no admin controls and the API refuses them', async ({ page }) => {
  await login(page, 'viewer');
  await page.goto('/clusters/demo-87');
  await expect(page.locator('nav >> text=Backups')).toBeVisible();
  await expect(page.locator('nav >> text=Audit')).toHaveCount(0);
  const audit = await page.request.get('/api/audit');
  expect(audit.status()).toBe(403);
  expect((await audit.json()).error.code).toBe('forbidden');
  // A mutating call without the CSRF token is refused even with a valid session cookie.
  const forged = await page.request.post('/api/logout');
  expect(forged.status()).toBe(403);
  await page.goto('/clusters/demo-87/audit');
  await expect(page.locator('.alert-error')).toContainText('for admins');
});

test('an admin reads the audit trail of this run, filters it and exports it', async ({ page }) => {
  await login(page, 'admin');
  // The fleet view has no cluster pages in its menu: pick the cluster first.
  await page.selectOption('#cluster-switcher', 'demo-87');
  await page.click('nav >> text=Audit');
  await expect(page).toHaveURL(/\/clusters\/demo-87\/audit$/);
  const rows = page.locator('#audit-table tbody tr');
  await expect(rows.first()).toBeVisible();
  // Earlier specs of this run logged in and failed to log in; all of it is here.
  await expect(page.locator('#audit-table tr[data-action="login_failed"]').first()).toBeVisible();
  await expect(page.locator('#audit-table')).toContainText('viewer');
  await page.fill('#audit-user', 'admin');
  await page.locator('#audit-user').dispatchEvent('change');
  await expect.poll(async () => new Set(await page.locator('#audit-table tbody tr td:nth-child(2)').allTextContents()))
    .toEqual(new Set(['admin']));
  const href = await page.locator('#export-csv').getAttribute('href');
  expect(href).toBe('/api/audit?user=admin&format=csv');
  const csv = await page.request.get(href);
  expect(csv.headers()['content-type']).toContain('text/csv');
  expect(await csv.text()).toContain('"admin","127.0.0.1","login","","","success"');
});

test('logging out ends the session on the server', async ({ page }) => {
  await login(page, 'operator');
  await page.click('#logout');
  await expect(page).toHaveURL(/\/login$/);
  const session = await page.request.get('/api/session');
  expect(session.status()).toBe(401);
  await page.goto('/clusters/demo-87');
  await expect(page).toHaveURL(/\/login\?next=/);
});

test('a viewer cannot pause exporting; an operator soft-pauses with confirmation and resumes from the alarm', async ({ page }) => {
  await login(page, 'viewer');
  await page.goto('/clusters/demo-88');
  await expect(page.locator('#exporting-table')).toBeVisible();
  await expect(page.locator('[data-action]')).toHaveCount(0);
  const csrf = (await (await page.request.get('/api/session')).json()).csrf_token;
  const refused = await page.request.post('/api/clusters/demo-88/exporting/pause', {
    headers: { 'X-CSRF-Token': csrf }, data: { soft: true } });
  expect(refused.status()).toBe(403);
  await page.click('#logout');

  await login(page, 'operator');
  await page.goto('/clusters/demo-88');
  const card = page.locator('section.card', { has: page.locator('#exporting-table') });
  await card.locator('[data-action="soft-pause"]').click();
  await expect(card.locator('.confirm')).toContainText('broker disks grow');
  await card.locator('[data-cancel="soft-pause"]').click();
  await expect(page.locator('#exporting-alarm')).toHaveCount(0);
  await card.locator('[data-action="soft-pause"]').click();
  await card.locator('[data-confirm="soft-pause"]').click();
  await expect(page.locator('#exporting-alarm')).toContainText('partition 1 is SOFT_PAUSED');
  await page.locator('#exporting-alarm [data-action="resume"]').click();
  await page.locator('#exporting-alarm [data-confirm="resume"]').click();
  await expect(page.locator('#exporting-alarm')).toHaveCount(0);
  await expect(page.locator('#exporting-table')).not.toContainText('PAUSED');
  await page.click('#logout');

  await login(page, 'admin');
  await page.goto('/clusters/demo-88/audit');
  await expect(page.locator('#audit-table tr[data-action="exporting_soft_paused"]')).toContainText('operator');
  await expect(page.locator('#audit-table tr[data-action="exporting_resumed"]')).toContainText('demo-88');
});
