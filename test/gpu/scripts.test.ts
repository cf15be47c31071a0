// The GPU-run scripts' behaviour that needs no GPU: usage, argument errors, and run-on-gpu.sh
// refusing cleanly (exit 3, nothing run) when the prepared bundle is missing.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

function bash(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync('bash', args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
  return { code: r.status, out: r.stdout + r.stderr };
}

describe('bench/gpu/run-on-gpu.sh and prepare.sh without a GPU', () => {
  it('print their usage with --help and reject unknown arguments', () => {
    for (const script of ['bench/gpu/run-on-gpu.sh', 'bench/gpu/prepare.sh']) {
      const help = bash([script, '--help']);
      expect(help.code, help.out).toBe(0);
      expect(help.out).toMatch(/usage: (bash )?bench\/gpu\/(run-on-gpu|prepare)\.sh/);
      const bad = bash([script, '--frobnicate']);
      expect(bad.code).toBe(2);
      expect(bad.out).toMatch(/unknown argument '--frobnicate'/);
    }
  });

  it('run-on-gpu.sh refuses (exit 3) when the bundle prepare.sh builds is missing, and says so in $OUT', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kd-gpurun-'));
    try {
      const r = bash(['bench/gpu/run-on-gpu.sh'], { OUT: join(dir, 'out'), KINDLING_GPU_BUNDLE: join(dir, 'none') });
      expect(r.code, r.out).toBe(3);
      expect(r.out).toMatch(/refusing: .* is missing: run bench\/gpu\/prepare\.sh/);
      expect(readFileSync(join(dir, 'out', 'summary.txt'), 'utf8')).toMatch(/refusing/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
