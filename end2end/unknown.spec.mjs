// A console pointed at a separately started simulator through a config file, as against a real
// cluster; a component that fails must read unknown in the browser, never healthy.
import { test, expect } from '@playwright/test';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { login, PASSWORD } from './helpers.mjs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BIN = '../target/release/backup-console';
const CONSOLE = 'http://127.0.0.1:18081';
const CONTROL = 'http://127.0.0.1:19605';
let processes = [];

async function waitFor(url) {
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(url)).ok) return; } catch {}
    await new Promise(r => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

test.beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bc-e2e-'));
  const config = join(dir, 'console.toml');
  processes.push(spawn(BIN, ['sim', '--profile', '8.7', '--seed', '15', '--base-port', '19600', '--write-config', config], { stdio: 'ignore' }));
  await waitFor(`${CONTROL}/sim/state`);
  for (let i = 0; i < 50 && !existsSync(config); i++) await new Promise(r => setTimeout(r, 100));
  const cluster = readFileSync(config, 'utf8');
  expect(cluster).toContain('[clusters.operate]');
  // The administrator's way to add a user: hash-password reads the password on stdin.
  const hash = execFileSync(BIN, ['hash-password'], { input: `${PASSWORD}\n` }).toString().trim();
  expect(hash).toMatch(/^\$argon2id\$/);
  writeFileSync(config, `[store]\ndatabase = "${join(dir, 'console.db')}"\n[auth]\n[[auth.users]]\nname = "ops"\npassword_hash = "${hash}"\nrole = "operator"\n${cluster}`);
  processes.push(spawn(BIN, ['serve', '--config', config, '--listen', '127.0.0.1:18081', '--ui-dir', '../dist'], { stdio: 'ignore' }));
  await waitFor(`${CONSOLE}/api/health`);
});

test.afterAll(() => { for (const p of processes) p.kill('SIGTERM'); });

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
