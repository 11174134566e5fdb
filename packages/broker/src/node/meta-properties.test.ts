import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ensureMetaProperties } from './meta-properties.js';

describe('meta.properties', () => {
  it('formats a new directory and accepts it on the next start', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'gregor-meta-')), 'logs');
    const first = ensureMetaProperties(dir, 'cluster-a', 1);
    expect(readFileSync(join(dir, 'meta.properties'), 'utf8')).toMatch(
      /cluster.id=cluster-a\n.*node.id=1\nversion=1/s,
    );
    expect(ensureMetaProperties(dir, 'cluster-a', 1)).toEqual(first);
  });

  it('refuses a directory of another cluster or node', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gregor-meta-'));
    ensureMetaProperties(dir, 'cluster-a', 1);
    expect(() => ensureMetaProperties(dir, 'cluster-b', 1)).toThrow(/belongs to cluster cluster-a/);
    expect(() => ensureMetaProperties(dir, 'cluster-a', 2)).toThrow(/belongs to node 1/);
  });
});
