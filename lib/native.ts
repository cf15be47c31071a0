// Loads the compiled addon (a prebuild, or build/Release from `npm install`). Only lib/backend/
// and the raw-kernel tests and benchmarks use it directly.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';

const require = createRequire(import.meta.url);

function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('kindling: cannot find the package root');
    dir = parent;
  }
  return dir;
}

// The addon's exports are untyped at this boundary; lib/backend/cpu.ts gives them types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NativeAddon = Record<string, any>;

// KINDLING_ADDON names a specific build of the addon (a .node file) to load instead.
export const native: NativeAddon = process.env.KINDLING_ADDON
  ? require(process.env.KINDLING_ADDON)
  : require('node-gyp-build')(packageRoot());
