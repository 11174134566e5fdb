import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests run against TypeScript sources: each workspace package name resolves to its src/index.ts,
// so `npm test` never tests a stale dist/. Integration tests spawn built processes (dist/).
const packages = [
  'protocol',
  'storage',
  'raft',
  'metadata',
  'sim',
  'broker',
  'client',
  'cli',
  'group',
  'testkit',
  'chaos',
];
// The broker's pure replication core is a subpath export (the replication simulation imports it);
// it must come before `@gregor/broker`, which would otherwise match first.
const alias = {
  '@gregor/broker/replica-core': fileURLToPath(
    new URL('./packages/broker/src/replica/replica-core.ts', import.meta.url),
  ),
  ...Object.fromEntries(
    packages.map((name) => [
      `@gregor/${name}`,
      fileURLToPath(new URL(`./packages/${name}/src/index.ts`, import.meta.url)),
    ]),
  ),
};

export default defineConfig({
  resolve: { alias },
  test: {
    projects: [
      {
        resolve: { alias },
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts'],
          exclude: ['**/*.integration.test.ts', '**/node_modules/**', '**/dist/**'],
          testTimeout: 60_000,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration',
          include: ['packages/*/src/**/*.integration.test.ts', 'scripts/**/*.integration.test.ts'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
