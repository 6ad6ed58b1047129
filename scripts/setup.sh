#!/usr/bin/env bash
# Installs what a fresh machine lacks, from the package registries only; fast when all is there.
#   scripts/setup.sh            build tools (wasm target, wasm-bindgen CLI, npm packages)
#   scripts/setup.sh --browser  also what the tests need: Debian's chromium (the end-to-end tests),
#                               prometheus (its promtool checks the metrics and tests the alert
#                               rules), PyPI's aiosmtpd (the notification tests' SMTP sink) and
#                               Debian's postgresql (the dump tests start a real server)
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi

# The CLI must be exactly the version the app crate pins, or bindgen fails.
want=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)".*/\1/p' app/Cargo.toml)
if ! wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $want"; then
  # Not --locked: a dependency version in its lock file is no longer on the registry.
  cargo install wasm-bindgen-cli --version "$want"
fi

if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/playwright ] \
  || [ ! -d node_modules/oauth2-mock-server ]; then
  # Playwright's own browser download is never used: the tests run Debian's chromium.
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
fi

if [ "${1:-}" = "--browser" ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  updated=""
  apt_install() {
    [ -n "$updated" ] || { $sudo_cmd apt-get update; updated=1; }
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y "$@"
  }
  command -v chromium >/dev/null 2>&1 || apt_install chromium
  # promtool only; the recommended exporters are not needed.
  command -v promtool >/dev/null 2>&1 || apt_install --no-install-recommends prometheus
  # The dump tests (server/tests/integration/dumps.rs) start Debian's PostgreSQL server in a
  # temporary directory (initdb, pg_ctl from /usr/lib/postgresql/*/bin) and run its pg_dump and
  # pg_restore; the package brings both the server and the client.
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || ! command -v pg_dump >/dev/null 2>&1; then
    apt_install --no-install-recommends postgresql postgresql-client
  fi
  # The notification tests' SMTP sink (server/tests/integration/notify.rs), from PyPI; a Python
  # whose packages the system manages (PEP 668) takes it with --break-system-packages.
  if ! python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
    python3 -m pip install --quiet aiosmtpd \
      || python3 -m pip install --quiet --break-system-packages aiosmtpd
  fi
fi

