import { defineConfig } from 'vitest/config';

/** The Galera cluster suite: `npm run test:cluster` (needs scripts/cluster/galera-start.sh; see README). */
export default defineConfig({
  test: {
    include: ['test/cluster/**/*.cluster.ts'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
