import { defineConfig } from 'vitest/config';

// `npm run test:integration`: the same end-to-end suites against real external services
// (Postgres at DATABASE_URL, Mosquitto), plus suites that only make sense there.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    poolOptions: { forks: { singleFork: true } },
    // the gateway's upstream bridge against the machine's Mosquitto
    env: { MQTT_UPSTREAM_TEST_URL: process.env.MQTT_UPSTREAM_TEST_URL ?? 'mqtt://127.0.0.1:1883' },
  },
});
