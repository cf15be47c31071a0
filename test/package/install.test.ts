// The package's own files: LICENSE, and the install step (scripts/install.cjs), which must stay
// silent when an addon loads and must not print node-gyp-build's "No native build was found"
// before building from source. The packed tarball is tested in pack.test.ts (npm run test:pack).
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const temps: string[] = [];
afterAll(() => temps.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function runInstallScript(packageDir: string, env: NodeJS.ProcessEnv = process.env) {
  const result = spawnSync(process.execPath, [join(packageDir, 'scripts', 'install.cjs')], { cwd: packageDir, env, encoding: 'utf8' });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('LICENSE', () => {
  it('is the MIT license that package.json names, for the kindling authors, 2026', () => {
    const license = readFileSync(join(root, 'LICENSE'), 'utf8');
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { license: string };
    expect(manifest.license).toBe('MIT');
    expect(license).toMatch(/^MIT License\n\nCopyright \(c\) 2026 the kindling authors\n/);
    expect(license).toContain('THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND');
  });
});

describe('install script', () => {
  it('is what npm runs on install', () => {
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(manifest.scripts.install).toBe('node scripts/install.cjs');
  });

  it('prints nothing and builds nothing when the addon already loads', () => {
    const { status, output } = runInstallScript(root);
    expect(output).toBe('');
    expect(status).toBe(0);
  });

  it('says in one line why it builds from source, with no "No native build was found" scare', () => {
    // A package with neither prebuilds/ nor build/, and no cmake on PATH: the script must explain
    // itself, then cmake-js fails (the build itself is not what this test is about).
    const dir = mkdtempSync(join(tmpdir(), 'kindling-install-'));
    temps.push(dir);
    mkdirSync(join(dir, 'scripts'));
    copyFileSync(join(root, 'scripts', 'install.cjs'), join(dir, 'scripts', 'install.cjs'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'kindling-install-probe', binary: { napi_versions: [8] } }));
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    const { status, output } = runInstallScript(dir, { ...process.env, PATH: join(dir, 'no-tools-here') });
    expect(output).not.toMatch(/No native build was found/);
    expect(output.split('\n')[0]).toBe(`kindling: no prebuilt addon for ${process.platform}-${process.arch}; building the native addon from source with cmake-js`);
    expect(status).not.toBe(0);
  });
});
