import { defineConfig } from 'drizzle-kit';

// `npm run db:generate` writes SQL migrations from the TypeScript schema; never hand-edit them.
export default defineConfig({
  dialect: 'postgresql',
  schema: './migrations/schema/index.ts',
  out: './migrations/sql',
});
