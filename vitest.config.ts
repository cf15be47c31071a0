import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // The memory test calls gc() so it measures what is held, not what awaits collection.
    poolOptions: { forks: { execArgv: ['--expose-gc'] } },
  },
});
