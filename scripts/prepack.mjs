// `npm pack` and `npm publish` run this first: the tarball ships the prebuilt addon
// prebuilds/<platform>-<arch>/kindling.node, so installing it needs no compiler. A prebuild newer
// than every native source (native/, cuda/, CMakeLists.txt) is kept; otherwise `npm run prebuild`
// makes one (prebuildify over cmake-js; CUDA is compiled in when nvcc is found, and
// KINDLING_CUDA=1 makes its absence an error, as a release should). `prepare` then builds dist/.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const prebuildDir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);

function newestSourceMs() {
  const files = [join(root, 'CMakeLists.txt')];
  for (const dir of ['native', 'cuda']) {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true, recursive: true })) {
      if (entry.isFile()) files.push(join(entry.parentPath, entry.name));
    }
  }
  return Math.max(...files.map((file) => statSync(file).mtimeMs));
}

function prebuilds() {
  if (!existsSync(prebuildDir)) return [];
  return readdirSync(prebuildDir).filter((name) => name.endsWith('.node')).map((name) => join(prebuildDir, name));
}

const fresh = prebuilds().filter((file) => statSync(file).mtimeMs >= newestSourceMs());
if (fresh.length === 0) {
  console.log(`kindling prepack: building the prebuilt addon (npm run prebuild)`);
  const result = spawnSync('npm', ['run', 'prebuild'], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
const [addon] = prebuilds();
if (!addon) {
  console.error(`kindling prepack: npm run prebuild left no .node file in ${relative(root, prebuildDir)}/`);
  process.exit(1);
}
const cuda = execFileSync(process.execPath, ['-e', `process.stdout.write(String(require(${JSON.stringify(addon)}).cudaBuilt()))`])
  .toString();
console.log(`kindling prepack: shipping ${relative(root, addon)} (CUDA ${cuda === 'true' ? 'compiled in' : 'not compiled in: CPU only'})`);
