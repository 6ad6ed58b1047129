// The restore runbook panel of a set's detail: an 8.7 set with the deployment's facts filled in,
// and an 8.10 set (an 8.8 simulator named 8.10 in the file) without them, whose runbook marks them
// as placeholders. Each against its own simulator and console; the sets are taken through the
// simulator's real backup APIs.
import { test, expect } from '@playwright/test';
import { login, refreshCatalog, startSimAndConsole } from './helpers.mjs';

const DEPLOYMENT = '\n[clusters.deployment]\nhelm_release = "camunda-e2e"\nnamespace = "camunda-ns"\nchart_version = "12.13.3"\nvalues_file = "values-e2e.yaml"\nbackup_store = "s3"\nbackup_store_bucket = "e2e-backups"\n';

async function post(url, body, method = 'POST') {
  const r = await fetch(url, { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`${method} ${url}: ${r.status} ${await r.text()}`);
}

// The documented order: web apps (and Optimize), the records snapshot, then Zeebe.
async function takeBackup(id, { webapps, optimize, elasticsearch, zeebe, zeebePath }) {
  for (const url of webapps) await post(`${url}`, { backupId: id });
  await post(`${optimize}/actuator/backups`, { backupId: id });
  await post(`${elasticsearch}/_snapshot/camunda/camunda_zeebe_records_backup_${id}?wait_for_completion=true`, { indices: 'zeebe-record*' }, 'PUT');
  await post(`${zeebe}/actuator/${zeebePath}`, { backupId: id });
  await new Promise(r => setTimeout(r, 600));
}

async function openRunbook(page, base, id) {
  await page.goto(`${base}/clusters/sim/backups?id=${id}`);
  const panel = page.locator('#detail-panel');
  await expect(panel.locator('#runbook-panel h3')).toHaveText('Restore runbook');
  // Shown on demand: it reads every component again.
  await expect(panel.locator('#runbook-text')).toHaveCount(0);
  await panel.locator('#show-runbook').click();
  const text = panel.locator('#runbook-text');
  await expect(text).toContainText(`Restore runbook: backup ${id} of cluster sim`);
  return { panel, text };
}

test.describe('8.7', () => {
  const CONSOLE = 'http://127.0.0.1:18096';
  // `sim --base-port 19740` for 8.7: Zeebe, Operate, Tasklist, Optimize, Elasticsearch, control.
  const port = n => `http://127.0.0.1:${19740 + n}`;
  let harness;
  test.beforeAll(async () => {
    harness = await startSimAndConsole({
      prefix: 'bc-e2e-runbook87-', seed: 0, basePort: 19740, control: port(5),
      listen: '127.0.0.1:18096', user: 'viewer', role: 'viewer', clusterTail: DEPLOYMENT,
    });
    await takeBackup(5001, {
      webapps: [`${port(1)}/actuator/backups`, `${port(2)}/actuator/backups`],
      optimize: port(3), elasticsearch: port(4), zeebe: port(0), zeebePath: 'backups',
    });
    await refreshCatalog(CONSOLE, 'sim', 'viewer');
  });
  test.afterAll(() => { harness?.stop(); });

  test('the panel shows the 8.7 procedure with every snapshot and the deployment', async ({ page }) => {
    await login(page, 'viewer', CONSOLE);
    const { panel, text } = await openRunbook(page, CONSOLE, 5001);
    await expect(text).toContainText('8.7: restore Elasticsearch snapshots, then the Zeebe restore app');
    for (const prefix of ['camunda_operate_5001_', 'camunda_tasklist_5001_', 'camunda_optimize_5001_', 'camunda_zeebe_records_backup_5001']) {
      await expect(text).toContainText(prefix);
    }
    await expect(text).toContainText('helm upgrade "camunda-e2e" camunda/camunda-platform --namespace "camunda-ns"');
    await expect(text).toContainText('zeebeGateway:');
    await expect(text).toContainText('ZEEBE_RESTORE_FROM_BACKUP_ID');
    await expect(text).toContainText('DESTRUCTIVE');
    await expect(text).not.toContainText('<HELM_RELEASE>');
    // Headings in bold, the rest as written.
    await expect(text.locator('strong').first()).toHaveText('# Restore runbook: backup 5001 of cluster sim');

    // The downloads are plain links to the API, as Markdown and as a script.
    const sh = panel.locator('#runbook-sh');
    await expect(sh).toHaveAttribute('download', '');
    await expect(sh).toHaveAttribute('href', '/api/clusters/sim/backups/5001/runbook?format=sh');
    await expect(panel.locator('#runbook-md')).toHaveAttribute('href', '/api/clusters/sim/backups/5001/runbook?format=md');
    const answer = await page.request.get(`${CONSOLE}/api/clusters/sim/backups/5001/runbook?format=sh`);
    expect(answer.status()).toBe(200);
    expect(answer.headers()['content-disposition']).toBe('attachment; filename="restore-sim-5001.sh"');
    const script = await answer.text();
    expect(script.startsWith('#!/bin/sh\n')).toBe(true);
    expect(script).toContain("HELM_RELEASE='camunda-e2e'");
  });
});

test.describe('8.10', () => {
  const CONSOLE = 'http://127.0.0.1:18097';
  // `sim --profile 8.8 --base-port 19760`: the Orchestration Cluster, Optimize, Elasticsearch, control.
  const port = n => `http://127.0.0.1:${19760 + n}`;
  let harness;
  test.beforeAll(async () => {
    harness = await startSimAndConsole({
      prefix: 'bc-e2e-runbook810-', seed: 0, basePort: 19760, control: port(3),
      listen: '127.0.0.1:18097', user: 'viewer', role: 'viewer', profile: '8.8', version: '8.10',
    });
    await takeBackup(6001, {
      webapps: [`${port(0)}/actuator/backupHistory`],
      optimize: port(1), elasticsearch: port(2), zeebe: port(0), zeebePath: 'backupRuntime',
    });
    await refreshCatalog(CONSOLE, 'sim', 'viewer');
  });
  test.afterAll(() => { harness?.stop(); });

  test('the panel shows the 8.10 Restore API and marks the unknown deployment facts', async ({ page }) => {
    await login(page, 'viewer', CONSOLE);
    const { text } = await openRunbook(page, CONSOLE, 6001);
    await expect(text).toContainText('8.10: the in-place Restore API (the restore application is the alternative)');
    await expect(text).toContainText('mode?mode=RECOVERING');
    await expect(text).toContainText('/v2/restore?dryRun=true');
    await expect(text).toContainText('camunda_webapps_6001_');
    await expect(text).toContainText('camunda_zeebe_records_backup_6001');
    await expect(text).toContainText('Alternative: the restore application');
    // Without [clusters.deployment], the first lines say what is unknown, and the commands mark it.
    await expect(text.locator('strong').nth(1)).toContainText('WARNING');
    await expect(text).toContainText('HELM_RELEASE ([clusters.deployment] helm_release)');
    await expect(text).toContainText('helm upgrade "<HELM_RELEASE>"');
  });
});
