import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The memory tests call gc() so they measure what is held, not what awaits collection, and
    // start V8's young generation at its full size: it otherwise grows by ~16 MiB at some point
    // of a long loop, which reads as a jump in RSS that no tensor caused.
    poolOptions: { forks: { execArgv: ['--expose-gc', '--min-semi-space-size=16'] } },
  },
});
