#!/usr/bin/env node
// The build command prebuildify runs (`npm run prebuild` passes it as --node-gyp). prebuildify
// speaks node-gyp (`rebuild --target=<node version> --devdir=... --release`); kindling builds with
// cmake-js, whose --target means a CMake target. A Node-API addon does not depend on the Node
// version, so only the rebuild is passed on: build/Release/kindling.node, which prebuildify then
// strips and moves to prebuilds/<platform>-<arch>/.
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');

const args = process.argv.slice(2);
if (args[0] !== 'rebuild') {
  console.error(`prebuild-backend: expected "rebuild" from prebuildify, got: ${args.join(' ')}`);
  process.exit(1);
}
const cmakeArgs = ['rebuild', '--out', 'build'];
if (args.includes('--debug')) cmakeArgs.push('--debug');
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const result = spawnSync(process.execPath, [cmakeJs, ...cmakeArgs], { cwd: path.join(__dirname, '..'), stdio: 'inherit' });
if (result.error) {
  console.error(`prebuild-backend: cannot run cmake-js (${result.error.message})`);
  process.exit(1);
}
process.exit(result.status ?? 1);
