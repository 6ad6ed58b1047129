// End-to-end tests: real Chromium (Debian's, never a downloaded one) against the release build.
import { defineConfig } from '@playwright/test';

export const DEMO = 'http://127.0.0.1:18080';

export default defineConfig({
  testDir: '.',
  testMatch: /.*\.spec\.mjs/,
  timeout: 30_000,
  expect: { timeout: 10_000 },
  workers: 1,
  reporter: [['list']],
  use: {
    baseURL: DEMO,
    browserName: 'chromium',
    viewport: { width: 1400, height: 900 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    },
  },
  webServer: {
    command: `${process.env.BACKUP_CONSOLE_BIN ?? '../target/release/backup-console'} demo --listen 127.0.0.1:18080 --seed 300 --ui-dir ../dist --password e2e-demo-password --metrics-listen 127.0.0.1:19464 --backup-schedule=`,
    url: `${DEMO}/api/health`,
    reuseExistingServer: false,
    timeout: 60_000,
  },
});
