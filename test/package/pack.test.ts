// The tarball `npm pack` makes, installed the way a user installs it. Slow (tsc, esbuild and
// npm pack run on a copy of the repository), so it runs under `npm run test:pack` only, not in
// `npm test`. The prebuilt addon in the tarball is build/Release/kindling.node copied into
// prebuilds/ (what `npm run prebuild` would make, without the minutes of compiling), which the
// prepack step keeps because it is newer than every native source.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const execFileAsync = promisify(execFile);
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const platformDir = `${process.platform}-${process.arch}`;
const expectedOutput = '[3,5,7] float32';

describe.skipIf(!process.env.KINDLING_PACK_TEST)('npm pack (npm run test:pack)', () => {
  let work = '';
  let tarball = '';
  let listed: string[] = [];
  let dryRunListed: string[] = [];
  let installed = '';
  let project = '';
  let prepackLog = '';

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'kindling-pack-'));
    const stage = join(work, 'stage');
    // The working tree as git sees it (tracked and new files, nothing ignored), with this
    // checkout's node_modules for the build tools and its addon as the prebuild.
    const files = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root })
      .toString().split('\0').filter((file) => file !== '' && existsSync(join(root, file)) && lstatSync(join(root, file)).isFile());
    for (const file of files) {
      mkdirSync(dirname(join(stage, file)), { recursive: true });
      copyFileSync(join(root, file), join(stage, file));
    }
    symlinkSync(join(root, 'node_modules'), join(stage, 'node_modules'));
    mkdirSync(join(stage, 'prebuilds', platformDir), { recursive: true });
    copyFileSync(join(root, 'build', 'Release', 'kindling.node'), join(stage, 'prebuilds', platformDir, 'kindling.node'));

    // Asynchronously: tsc and esbuild take a while, and a blocked worker misses vitest's heartbeats.
    const { stdout: packed, stderr: packLog } = await execFileAsync('npm', ['pack', '--json', '--pack-destination', work], { cwd: stage, encoding: 'utf8', maxBuffer: 1 << 26 });
    const report = JSON.parse(packed.slice(packed.indexOf('[\n'))) as { filename: string; files: { path: string }[] }[];
    tarball = join(work, report[0].filename);
    prepackLog = `${packed.slice(0, packed.indexOf('[\n'))}${packLog}`;
    listed = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).split('\n').filter(Boolean).map((p) => p.replace(/^package\//, ''));
    const dryRun = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: stage, encoding: 'utf8' });
    dryRunListed = (JSON.parse(dryRun) as { files: { path: string }[] }[])[0].files.map((f) => f.path);

    // A CommonJS project with the tarball unpacked where npm puts it; the package's own
    // dependencies come from this checkout (npm cannot fetch them here). Then npm's install step.
    project = join(work, 'project');
    installed = join(project, 'node_modules', 'kindling');
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['xzf', tarball, '-C', installed, '--strip-components=1']);
    symlinkSync(join(root, 'node_modules'), join(installed, 'node_modules'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'cjs-user', private: true, type: 'commonjs' }));
  }, 600_000);

  afterAll(() => {
    if (work) rmSync(work, { recursive: true, force: true });
  });

  function node(args: string[]) {
    return execFileSync(process.execPath, args, { cwd: project, encoding: 'utf8' }).trim();
  }

  it('ships dist (ES module and CommonJS), the prebuilt addon, sources for a source build, data, examples and LICENSE', () => {
    for (const file of [
      'package.json', 'LICENSE', 'README.md',
      'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/lib/cli.js',
      'dist/cjs/index.js', 'dist/cjs/index.d.ts', 'dist/cjs/package.json',
      `prebuilds/${platformDir}/kindling.node`,
      'CMakeLists.txt', 'native/binding/addon.cc', 'lib/index.ts', 'scripts/install.cjs', 'scripts/prebuild-backend.cjs',
      'data/fashion-mnist/train-images-idx3-ubyte.gz', 'examples/iris_mlp.ts',
    ]) {
      expect(listed, file).toContain(file);
    }
    expect(listed.some((file) => file.startsWith('cuda/') && file.endsWith('.cu'))).toBe(true);
    const unwanted = listed.filter((file) => /^(test|bench|build|dist\/bench|node_modules|\.ci)\//.test(file) || /\.(o|log|tgz)$/.test(file));
    expect(unwanted).toEqual([]);
    expect([...dryRunListed].sort()).toEqual([...listed].sort());
  });

  it('prepack kept the prebuild that is newer than the native sources', () => {
    expect(prepackLog).toContain(`kindling prepack: shipping prebuilds/${platformDir}/kindling.node (CUDA `);
    expect(prepackLog).not.toContain('building the prebuilt addon');
  });

  it('has source maps whose every source is a file in the tarball', () => {
    const maps = listed.filter((file) => file.startsWith('dist/') && file.endsWith('.js.map'));
    expect(maps.length).toBeGreaterThan(100);
    const missing: string[] = [];
    for (const map of maps) {
      const { sources, sourceRoot } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as { sources: string[]; sourceRoot?: string };
      for (const source of sources) {
        const file = posix.normalize(posix.join(posix.dirname(map), sourceRoot ?? '', source));
        if (!listed.includes(file)) missing.push(`${map} -> ${source}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('installs with no compiler: the install step finds the prebuild, prints nothing, builds nothing', () => {
    const result = spawnSync(process.execPath, ['scripts/install.cjs'], {
      cwd: installed, encoding: 'utf8', env: { ...process.env, PATH: join(work, 'no-compilers-here') },
    });
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(result.status).toBe(0);
    expect(existsSync(join(installed, 'build'))).toBe(false);
  });

  it("require('kindling') loads the CommonJS build and runs an op on the prebuilt addon", () => {
    writeFileSync(join(project, 'main.js'), [
      "const kd = require('kindling');",
      "const y = kd.tensor([1, 2, 3], { dtype: 'float32' }).mul(2).add(1);",
      "console.log(JSON.stringify(Array.from(y.data())), y.dtype);",
      "console.log(require.resolve('kindling'));",
      "const kindlingDir = require('path').dirname(require.resolve('kindling/package.json'));",
      "console.log(require(require.resolve('node-gyp-build', { paths: [kindlingDir] })).resolve(kindlingDir));",
    ].join('\n'));
    const [result, entry, addon] = node(['main.js']).split('\n');
    expect(result).toBe(expectedOutput);
    expect(entry).toBe(join(installed, 'dist', 'cjs', 'index.js'));
    expect(addon).toBe(join(installed, 'prebuilds', platformDir, 'kindling.node'));
  });

  it("import * as kd from 'kindling' still loads the ES module build", () => {
    writeFileSync(join(project, 'main.mjs'), [
      "import * as kd from 'kindling';",
      "const y = kd.tensor([1, 2, 3], { dtype: 'float32' }).mul(2).add(1);",
      "console.log(JSON.stringify(Array.from(y.data())), y.dtype);",
      "console.log(import.meta.resolve('kindling'));",
    ].join('\n'));
    const [result, entry] = node(['main.mjs']).split('\n');
    expect(result).toBe(expectedOutput);
    expect(entry).toBe(`file://${join(installed, 'dist', 'lib', 'index.js')}`);
  });

  it('compiles with TypeScript under module: node16 in a CommonJS project (import and import = require) and runs', () => {
    const body = [
      "const x: kd.Tensor = kd.tensor([1, 2, 3], { dtype: 'float32' });",
      'const layer = new kd.nn.Linear(3, 2);',
      'const y: kd.Tensor = layer.forward(x.reshape([1, 3]));',
      "if (y.shape.join('x') !== '1x2') throw new Error(`shape ${y.shape}`);",
      'const z = x.mul(2).add(1);',
      "console.log(JSON.stringify(Array.from(z.data())), z.dtype);",
    ];
    writeFileSync(join(project, 'use-import.ts'), ["import * as kd from 'kindling';", ...body].join('\n'));
    writeFileSync(join(project, 'use-require.ts'), ["import kd = require('kindling');", ...body].join('\n'));
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        module: 'node16', moduleResolution: 'node16', target: 'es2022', strict: true, outDir: 'out',
        typeRoots: [join(root, 'node_modules', '@types')], types: ['node'],
      },
      files: ['use-import.ts', 'use-require.ts'],
    }));
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json'], { cwd: project, encoding: 'utf8' });
    expect(`${tsc.stdout}${tsc.stderr}`).toBe('');
    expect(tsc.status).toBe(0);
    expect(readFileSync(join(project, 'out', 'use-import.js'), 'utf8')).toContain('require("kindling")');
    expect(node(['out/use-import.js'])).toBe(expectedOutput);
    expect(node(['out/use-require.js'])).toBe(expectedOutput);
  });
});
