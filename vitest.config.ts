import { defineConfig } from 'vitest/config';

// `npm test`: unit tests beside the code plus end-to-end tests in test/ that run on
// embedded PGlite and in-process servers. Needs nothing but Node and openssl.
export default defineConfig({
  test: {
    include: ['{ca-service,attestation,gateway,device-agent,cli,lib,migrations,ml,test}/**/*.test.ts'],
    // the browser suite needs Debian's chromium: it runs in `npm run test:integration`
    exclude: ['**/node_modules/**', 'test/browser/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
