// Shared by the specs: the demo's password, a login through the real login page, and the harness
// of the specs that start their own simulator and console from the release binary.
import { expect } from '@playwright/test';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PASSWORD = 'e2e-demo-password';

// BACKUP_CONSOLE_BIN points at a release build elsewhere (a CARGO_TARGET_DIR of its own).
export const BIN = process.env.BACKUP_CONSOLE_BIN ?? '../target/release/backup-console';

export async function login(page, user = 'admin', base = '') {
  await page.goto(`${base}/login`);
  await page.fill('#username', user);
  await page.fill('#password', PASSWORD);
  await page.click('#login-submit');
  await expect(page.locator('#whoami')).toContainText(user);
}

export async function waitFor(url) {
  for (let i = 0; i < 100; i++) {
    try { if ((await fetch(url)).ok) return; } catch {}
    await new Promise(r => setTimeout(r, 100));
  }
  throw new Error(`${url} did not come up`);
}

// `sim` for 8.7 on `basePort` (its control endpoint is `control`), then `serve` on `listen` with a
// configuration file as an administrator writes it: one user with PASSWORD (hashed by
// `hash-password`, which reads it on stdin), `extra` sections, then the cluster the simulator
// wrote with `clusterKeys` added to its own table (`rpo_hours = 1`) and `clusterTail` after its
// last section (a `[clusters.deployment]`). `profile` is the simulator's (8.7 or 8.8) and `version`
// the one the file names (8.10 on an 8.8 simulator). Returns the cluster text, the hash and
// `stop()`, which ends both processes (a start that fails ends what it started).
export async function startSimAndConsole({ prefix, seed, basePort, control, listen, user, role, extra = '', clusterKeys = '', clusterTail = '', profile = '8.7', version = profile }) {
  const processes = [];
  const stop = () => { for (const p of processes) p.kill('SIGTERM'); };
  try {
    const dir = mkdtempSync(join(tmpdir(), prefix));
    const config = join(dir, 'console.toml');
    processes.push(spawn(BIN, ['sim', '--profile', profile, '--seed', String(seed), '--base-port', String(basePort), '--write-config', config], { stdio: 'ignore' }));
    await waitFor(`${control}/sim/state`);
    for (let i = 0; i < 50 && !existsSync(config); i++) await new Promise(r => setTimeout(r, 100));
    const cluster = readFileSync(config, 'utf8').replace('[[clusters]]\n', `[[clusters]]\n${clusterKeys}`)
      .replace(`version = "${profile}"`, `version = "${version}"`) + clusterTail;
    const hash = execFileSync(BIN, ['hash-password'], { input: `${PASSWORD}\n` }).toString().trim();
    writeFileSync(config, `[store]\ndatabase = "${join(dir, 'console.db')}"\n[auth]\n[[auth.users]]\nname = "${user}"\npassword_hash = "${hash}"\nrole = "${role}"\n${extra}${cluster}`);
    processes.push(spawn(BIN, ['serve', '--config', config, '--listen', listen, '--ui-dir', '../dist'], { stdio: 'ignore' }));
    await waitFor(`http://${listen}/api/health`);
    return { cluster, hash, stop };
  } catch (error) {
    // A start-up that fails midway leaves nothing running.
    stop();
    throw error;
  }
}

// Asks the console to list `cluster` again, as a viewer's Refresh does: what a script runs after it
// changed the cluster behind the console's back (the catalog would see it at its next refresh).
export async function refreshCatalog(base, cluster, user) {
  const login = await fetch(`${base}/api/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-requested-with': 'backup-console' },
    body: JSON.stringify({ username: user, password: PASSWORD }),
  });
  if (!login.ok) throw new Error(`login ${login.status}`);
  const cookie = login.headers.getSetCookie().map(c => c.split(';')[0]).join('; ');
  const { csrf_token } = await login.json();
  const r = await fetch(`${base}/api/clusters/${cluster}/catalog/refresh`, {
    method: 'POST', headers: { cookie, 'x-csrf-token': csrf_token },
  });
  if (!r.ok) throw new Error(`refresh ${r.status} ${await r.text()}`);
  return r.json();
}
