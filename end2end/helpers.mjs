// Shared by the specs: the demo's password and a login through the real login page.
import { expect } from '@playwright/test';

export const PASSWORD = 'e2e-demo-password';

export async function login(page, user = 'admin', base = '') {
  await page.goto(`${base}/login`);
  await page.fill('#username', user);
  await page.fill('#password', PASSWORD);
  await page.click('#login-submit');
  await expect(page.locator('#whoami')).toContainText(user);
}
