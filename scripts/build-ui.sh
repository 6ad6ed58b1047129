#!/usr/bin/env bash
# Builds the WebAssembly UI into dist/: cargo (wasm32), wasm-bindgen (the CLI pinned to the crate's
# version by scripts/setup.sh), wasm-opt from npm's binaryen, then gzip copies for the server.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -p backup-console-app --target wasm32-unknown-unknown --profile wasm-release
rm -rf dist && mkdir -p dist/pkg
wasm-bindgen --target web --no-typescript --out-name app --out-dir dist/pkg \
  "${CARGO_TARGET_DIR:-target}"/wasm32-unknown-unknown/wasm-release/backup-console-app.wasm
# The features Rust's wasm32 target enables by default; binaryen must accept them.
node_modules/.bin/wasm-opt -Oz \
  --enable-bulk-memory --enable-reference-types --enable-nontrapping-float-to-int \
  --enable-sign-ext --enable-mutable-globals --enable-multivalue \
  dist/pkg/app_bg.wasm -o dist/pkg/app_bg.wasm
cp public/* dist/
cp style/main.css dist/main.css
find dist -type f \( -name '*.wasm' -o -name '*.js' -o -name '*.css' -o -name '*.html' \) -exec gzip -9 -k -f {} \;
echo "UI built: $(du -sh dist | cut -f1) in dist/ ($(cat dist/pkg/app_bg.wasm.gz dist/pkg/app.js.gz dist/main.css.gz | wc -c) bytes gzipped wasm+js+css)"
