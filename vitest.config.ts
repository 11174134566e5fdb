import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests run against TypeScript sources: each workspace package name resolves to its src/index.ts,
// so `npm test` never tests a stale dist/. Integration tests spawn built processes (dist/).
const packages = [
  'ground',
  'protocol',
  'storage',
  'raft',
  'metadata',
  'replication',
  'sim',
  'broker',
  'client',
  'cli',
  'group',
  'txn',
  'testkit',
  'chaos',
];
// Ground's test support (shared by every package's tests, never built into dist) is a subpath,
// which must come before its package, which would otherwise match first.
const alias = {
  '@gregor/ground/testing': fileURLToPath(new URL('./packages/ground/src/testing/index.ts', import.meta.url)),
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
          // Vitest leaves a core to its main process (one worker on two cores); unit tests are
          // CPU-bound and the main process is idle once the files are transformed: use every core.
          maxWorkers: availableParallelism(),
          // Unit tests hold no global state (no module mocks, fake timers or stubbed globals): a
          // worker keeps the modules it imported for the next file instead of importing them again.
          isolate: false,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'integration',
          include: ['packages/*/src/**/*.integration.test.ts', 'scripts/**/*.integration.test.ts'],
          // Files that wait out Kafka's own minimum periods (offsets.retention.minutes is at least a
          // minute) run by flag: `npm run test:long`, so that CI stays under 30 minutes.
          exclude: ['**/*.long.integration.test.ts', '**/node_modules/**', '**/dist/**'],
          testTimeout: 180_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
      {
        resolve: { alias },
        test: {
          name: 'long',
          include: ['packages/*/src/**/*.long.integration.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
