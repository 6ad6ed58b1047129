// A cleanup that partly fails against a separately started simulator, recovered from the UI with
// "Retry failed" once the component is back.
import { test, expect } from '@playwright/test';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { login, PASSWORD } from './helpers.mjs';

const BIN = '../target/release/backup-console';
const CONSOLE = 'http://127.0.0.1:18082';
const CONTROL = 'http://127.0.0.1:19625';
let processes = [];

async function waitFor(url) {
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(url)).ok) return; } catch {}
    await new Promise(r => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

test.beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bc-e2e-retry-'));
  const config = join(dir, 'console.toml');
  processes.push(spawn(BIN, ['sim', '--profile', '8.7', '--seed', '15', '--base-port', '19620', '--write-config', config], { stdio: 'ignore' }));
  await waitFor(`${CONTROL}/sim/state`);
  for (let i = 0; i < 50 && !existsSync(config); i++) await new Promise(r => setTimeout(r, 100));
  const cluster = readFileSync(config, 'utf8');
  const hash = execFileSync(BIN, ['hash-password'], { input: `${PASSWORD}\n` }).toString().trim();
  writeFileSync(config, `[store]\ndatabase = "${join(dir, 'console.db')}"\n[auth]\n[[auth.users]]\nname = "admin"\npassword_hash = "${hash}"\nrole = "admin"\n${cluster}`);
  processes.push(spawn(BIN, ['serve', '--config', config, '--listen', '127.0.0.1:18082', '--ui-dir', '../dist'], { stdio: 'ignore' }));
  await waitFor(`${CONSOLE}/api/health`);
});

test.afterAll(() => { for (const p of processes) p.kill('SIGTERM'); });

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
