// The CommonJS build of lib/ for `require('kindling')`: dist/cjs/, marked {"type":"commonjs"},
// beside tsc's ES-module build in dist/lib/ (run after tsc; `npm run build:ts` runs both).
// esbuild transpiles file by file (no bundle), so dist/cjs/ mirrors dist/lib/ module for module;
// `import.meta.url` becomes the file's own URL, taken from __filename. The declarations are tsc's,
// copied: under the marker they describe CommonJS files, which is what TypeScript needs to let a
// CommonJS project (`module: node16`) import or require the package.
import { build } from 'esbuild';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = join(root, 'lib');
const esmDir = join(root, 'dist', 'lib');
const cjsDir = join(root, 'dist', 'cjs');

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

if (!existsSync(join(esmDir, 'index.d.ts'))) {
  throw new Error(`build-cjs: ${relative(root, esmDir)}/index.d.ts is missing: run tsc -p tsconfig.json first`);
}
rmSync(cjsDir, { recursive: true, force: true });

const sources = filesUnder(srcDir).filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));
const usesImportMeta = (file) => readFileSync(file, 'utf8').includes('import.meta');
const common = {
  outdir: cjsDir,
  outbase: srcDir,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  sourcemap: true,
  sourcesContent: false,
  logLevel: 'warning',
};
await build({ ...common, entryPoints: sources.filter((file) => !usesImportMeta(file)) });
await build({
  ...common,
  entryPoints: sources.filter(usesImportMeta),
  define: { 'import.meta.url': '__kindlingModuleUrl' },
  banner: { js: '"use strict";\nconst __kindlingModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
});

writeFileSync(join(cjsDir, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
for (const file of filesUnder(esmDir).filter((f) => f.endsWith('.d.ts'))) {
  const target = join(cjsDir, relative(esmDir, file));
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(file, target);
}
