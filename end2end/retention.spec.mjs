// Retention on the demo's 8.8 cluster: pin a set, edit the policy, preview exactly what goes,
// confirm by typing the count, and the sets are gone from the history; one set deleted from the
// history panel; viewers can read the policy but not change or delete anything.
import { test, expect } from '@playwright/test';
import { login } from './helpers.mjs';

const CLUSTER = 'demo-88';

// The history is the catalog's: a set deleted in the background (a web-apps DELETE answers before
// its snapshots are gone) leaves it at the listing after that, seconds later.
async function searchIsEmpty(page, id) {
  await expect(async () => {
    await page.goto(`/clusters/${CLUSTER}/backups`);
    await page.fill('#search', String(id));
    await expect(page.locator('#backups-table')).toContainText('No backup set matches.', { timeout: 2_000 });
  }).toPass({ timeout: 30_000 });
}

test('an admin edits the policy, previews, confirms, and the sets are gone from history', async ({ page }) => {
  test.setTimeout(90_000);
  await login(page, 'admin');

  // Pin the oldest restorable set from the history panel: the policy must then keep it.
  await page.goto(`/clusters/${CLUSTER}/backups?verdict=restorable`);
  const pages = Number((await page.locator('#page-info').textContent()).match(/Page 1 of (\d+)/)[1]);
  await page.goto(`/clusters/${CLUSTER}/backups?verdict=restorable&page=${pages}`);
  const oldest = page.locator('#backups-table tbody tr.row').last();
  const pinnedId = await oldest.getAttribute('data-backup-id');
  await oldest.click();
  await page.click('#toggle-pin');
  await expect(page.locator('#pinned-badge')).toBeVisible();

  await page.goto(`/clusters/${CLUSTER}/retention`);
  await expect(page.locator('#policy')).toBeVisible();
  // Nothing configured: nothing is planned, and the starting policy is offered, not in force.
  await expect(page.locator('#policy-source')).toContainText('No retention policy is configured: nothing is deleted');
  await expect(page.locator('#preview h2')).toContainText('not in force yet');
  await expect(page.locator('#confirm-cleanup')).toContainText('Save the policy first');
  await page.fill('#keep-last', '10');
  await page.fill('#max-age-days', '');
  await page.fill('#min-restorable', '3');
  await page.fill('#keep-failed', '2');
  // An unsaved policy is previewed but cannot be executed.
  await expect(page.locator('#confirm-cleanup')).toContainText('Save the policy first');
  await page.click('#save-policy');
  await expect(page.locator('#policy-source')).toContainText('saved by admin');

  const heading = await page.locator('#preview h2').textContent();
  const count = Number(heading.match(/(\d+) to delete/)[1]);
  expect(count).toBeGreaterThan(5);
  // The server answers the plan a page at a time (the sets to delete first): walk the pages.
  const rows = page.locator('#preview-delete tbody tr');
  const info = page.locator('#preview-page-info');
  await expect(info).toContainText(`· ${count} sets`);
  const previewPages = Number((await info.textContent()).match(/Page 1 of (\d+)/)[1]);
  // Every set to delete lists its artifacts per component.
  await expect(rows.first().locator('.artifacts li').first()).toBeVisible();
  let ids = [];
  for (let p = 1; p <= previewPages; p++) {
    if (p > 1) {
      await page.click('#preview-next-page');
      await expect(info).toContainText(`Page ${p} of ${previewPages}`);
    }
    ids = ids.concat(await rows.evaluateAll(trs => trs.map(tr => tr.dataset.backupId)));
  }
  expect(ids).toHaveLength(count);
  expect(new Set(ids).size).toBe(count);
  expect(ids).not.toContain(pinnedId);
  await page.click('#preview-show [data-show="keep"]');
  await expect(page.locator(`#preview-keep tr[data-backup-id="${pinnedId}"]`)).toContainText('pinned');

  await expect(page.locator('#preview-summary')).toContainText(`Deletes ${count} sets`);
  // Most of the history goes: the warning a schedule would refuse with is shown first.
  await expect(page.locator('#cleanup-warning')).toContainText('more than half');
  // The button waits for the exact count.
  const button = page.locator('#delete-sets');
  await page.fill('#confirm-count', String(count - 1));
  await expect(button).toBeDisabled();
  await page.fill('#confirm-count', String(count));
  await expect(button).toBeEnabled();
  await button.click();

  await expect(page).toHaveURL(/retention\?cleanup=\d+$/);
  const cleanup = page.locator('#cleanup');
  await expect(cleanup).toHaveAttribute('data-outcome', 'completed', { timeout: 60_000 });
  await expect(page.locator('#cleanup-summary')).toContainText(`${count} sets`);
  await expect(page.locator('#cleanup-summary')).toContainText('0 failed');

  await searchIsEmpty(page, ids[0]);
  await searchIsEmpty(page, ids[ids.length - 1]);
  await page.fill('#search', pinnedId);
  await expect(page.locator('#backups-table tbody tr.row')).toHaveCount(1);

  // Under the same policy, nothing more to delete.
  await page.goto(`/clusters/${CLUSTER}/retention`);
  await expect(page.locator('#preview h2')).toContainText('0 to delete');
  await expect(page.locator('#nothing-to-delete')).toBeVisible();
});

test('one set is deleted from the history panel through the same path', async ({ page }) => {
  await login(page, 'admin');
  await page.goto(`/clusters/${CLUSTER}/backups?verdict=not_restorable`);
  const row = page.locator('#backups-table tbody tr.row').first();
  const id = await row.getAttribute('data-backup-id');
  await row.click();
  await page.click('#delete-set');
  const confirm = page.locator('#confirm-delete');
  await expect(confirm).toBeDisabled();
  await page.fill('#confirm-delete-set', '1');
  await confirm.click();
  await expect(page.locator('#cleanup')).toHaveAttribute('data-outcome', 'completed', { timeout: 30_000 });
  await searchIsEmpty(page, id);
});

test('a viewer reads the policy but cannot change it or delete', async ({ page }) => {
  await login(page, 'viewer');
  await page.goto(`/clusters/${CLUSTER}/retention`);
  await expect(page.locator('#preview')).toBeVisible();
  await expect(page.locator('#keep-last')).toBeDisabled();
  await expect(page.locator('#save-policy')).toHaveCount(0);
  await expect(page.locator('#confirm-cleanup')).toHaveCount(0);
  await page.goto(`/clusters/${CLUSTER}/backups`);
  await page.locator('#backups-table tbody tr.row').first().click();
  await expect(page.locator('#detail-panel')).toBeVisible();
  await expect(page.locator('#delete-set')).toHaveCount(0);
});
