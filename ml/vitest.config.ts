import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Runs ml/*.test.ts until the root vitest.config.ts includes ml/ (then this file can go):
//   npx vitest run --config ml/vitest.config.ts
export default defineConfig({
  root: fileURLToPath(new URL('..', import.meta.url)),
  test: {
    include: ['ml/**/*.test.ts'],
    testTimeout: 30_000,
    pool: 'forks',
  },
});
