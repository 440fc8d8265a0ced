import { defineConfig } from 'vitest/config';

// `npm test`: unit tests beside the code plus end-to-end tests in test/ that run on
// embedded PGlite and in-process servers. Needs nothing but Node and openssl.
export default defineConfig({
  test: {
    include: ['{ca-service,attestation,gateway,device-agent,cli,lib,migrations,test}/**/*.test.ts'],
    exclude: ['**/node_modules/**', 'test/integration/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
