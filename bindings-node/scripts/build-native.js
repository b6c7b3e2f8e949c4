#!/usr/bin/env node
// Builds the native addon from source (package.json "install" script): runs
// `napi build --release --platform` from the @napi-rs/cli devDependency, which calls
// cargo; nothing is downloaded besides crates. Output: native/index.js (loader),
// native/index.d.ts, native/websock.linux-x64-gnu.node.
// WEBSOCK_NODE_SKIP_BUILD=1 skips it when native/ already holds a built addon.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const here = path.resolve(__dirname, '..');
const built = fs.existsSync(path.join(here, 'native', 'index.js')) &&
  fs.readdirSync(path.join(here, 'native')).some((f) => f.endsWith('.node'));
if (process.env.WEBSOCK_NODE_SKIP_BUILD === '1' && built && !process.argv.includes('--force')) {
  console.log('websock: native addon present, build skipped (WEBSOCK_NODE_SKIP_BUILD=1)');
  process.exit(0);
}

let cli;
try {
  cli = require.resolve('@napi-rs/cli/package.json', { paths: [here] });
} catch {
  console.error('websock: @napi-rs/cli is not installed; run `npm install` inside bindings-node (it is a devDependency)');
  process.exit(1);
}
const bin = path.join(path.dirname(cli), JSON.parse(fs.readFileSync(cli, 'utf8')).bin.napi);
const args = [bin, 'build', '--release', '--platform', '--output-dir', 'native', '--js', 'index.js', '--dts', 'index.d.ts'];
const r = spawnSync(process.execPath, args, { cwd: here, stdio: 'inherit', env: { CARGO_BUILD_JOBS: '2', ...process.env } });
if (r.status !== 0) {
  console.error('websock: building the native addon failed (needs Rust/cargo; see bindings-node/README.md)');
  process.exit(r.status || 1);
}
