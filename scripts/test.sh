#!/usr/bin/env bash
# Every test: formatting and lints, unit and integration tests (real HTTP against the simulator),
# then the release build and the end-to-end tests in Debian's chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all --check
# Modules must not import each other in a cycle (CONTRIBUTING.md, "Layers").
scripts/import-cycles.py server/src sim/src domain/src app/src testkit/src
cargo clippy --workspace --exclude backup-console-app --all-targets -- -D warnings
cargo clippy -p backup-console-app --target wasm32-unknown-unknown -- -D warnings
# The shipped alert rules: valid, and their unit tests (promtool is Debian's prometheus).
(cd deploy/prometheus && promtool check rules backup-console-alerts.yml \
  && promtool test rules backup-console-alerts.test.yml)
cargo test
# A production build carries no simulator: without the default `demo` feature the help lists no
# `demo` or `sim`. The binary's own unit test proves it; it builds only the server crate once more
# (debug, no integration tests), which is cheaper than a second release build. The lints then
# check that build's code (lib and binary) for what only the feature used.
cargo test -p backup-console --no-default-features --bin backup-console
cargo clippy -p backup-console --no-default-features --bins -- -D warnings
scripts/build-ui.sh
cargo build --release -p backup-console
(cd end2end && npx playwright test --config playwright.config.mjs)
