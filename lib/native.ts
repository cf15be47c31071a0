// Loads the compiled addon (a prebuild, or build/Release from `npm install`). Only lib/backend/
// and the raw-kernel tests and benchmarks use it directly.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync, readFileSync } from 'node:fs';
import { IOError } from './errors.js';

const require = createRequire(import.meta.url);

/**
 * The package root: the nearest folder above this module whose package.json has a name (from
 * lib/, dist/lib/ and dist/cjs/, whose nameless package.json only marks its files as CommonJS).
 */
export function packageRoot(): string {
  const here = fileURLToPath(import.meta.url);
  for (let dir = dirname(here); ; ) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && typeof (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'string') {
      return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new IOError(`kindling: no package.json with a name above ${here} (ENOENT)`, here, 'ENOENT');
    dir = parent;
  }
}

// The addon's exports are untyped at this boundary; lib/backend/cpu.ts gives them types.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type NativeAddon = Record<string, any>;

// KINDLING_ADDON names a specific build of the addon (a .node file) to load instead.
export const native: NativeAddon = process.env.KINDLING_ADDON
  ? require(process.env.KINDLING_ADDON)
  : require('node-gyp-build')(packageRoot());
