#!/usr/bin/env bash
# Every test: formatting and lints, unit and integration tests (real HTTP against the simulator),
# then the release build and the end-to-end tests in Debian's chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
cargo clippy --workspace --exclude backup-console-app --all-targets -- -D warnings
cargo clippy -p backup-console-app --target wasm32-unknown-unknown -- -D warnings
cargo test
scripts/build-ui.sh
cargo build --release -p backup-console
(cd end2end && npx playwright test --config playwright.config.mjs)
