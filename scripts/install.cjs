#!/usr/bin/env node
// npm's install step. When the prebuilt addon shipped in prebuilds/<platform>-<arch>/ (or a
// build/Release already here) loads, it does nothing and prints nothing. Otherwise it says why in
// one line and builds the addon from source with cmake-js (native/, cuda/ and CMakeLists.txt ship
// for this; CUDA is included when nvcc is found, see CMakeLists.txt).
'use strict';
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const nodeGypBuild = require('node-gyp-build');

const root = path.join(__dirname, '..');

/** Why the addon must be built here, or null when a prebuild or an earlier build loads. */
function reasonToBuild() {
  let file;
  try {
    file = nodeGypBuild.resolve(root);
  } catch {
    return `no prebuilt addon for ${process.platform}-${process.arch}`;
  }
  try {
    require(file);
    return null;
  } catch (err) {
    const cause = String(err instanceof Error ? err.message : err).split('\n')[0];
    return `${path.relative(root, file)} does not load (${cause})`;
  }
}

const reason = reasonToBuild();
if (reason !== null) {
  console.log(`kindling: ${reason}; building the native addon from source with cmake-js`);
  const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
  const result = spawnSync(process.execPath, [cmakeJs, 'compile', '--out', 'build'], { cwd: root, stdio: 'inherit' });
  if (result.error) {
    console.error(`kindling: cannot run cmake-js (${result.error.message})`);
    process.exit(1);
  }
  process.exit(result.status ?? 1);
}
