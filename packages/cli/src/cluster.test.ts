import { describe, expect, it } from 'vitest';
import { parseClusterArgs } from './cluster.js';

const bootstrap = ['--bootstrap-server', 'localhost:9092'];

describe('gregor cluster arguments', () => {
  it("parses kafka-cluster.sh's cluster-id and unregister --id", () => {
    expect(parseClusterArgs(['cluster-id', ...bootstrap])).toMatchObject({
      bootstrap: [{ host: 'localhost', port: 9092 }],
      command: { kind: 'cluster-id' },
    });
    expect(parseClusterArgs([...bootstrap, 'unregister', '--id', '3'])).toMatchObject({
      command: { kind: 'unregister', id: 3 },
    });
    expect(parseClusterArgs(['--help'])).toBe('help');
  });

  it('names what is wrong', () => {
    expect(parseClusterArgs([...bootstrap, 'unregister'])).toBe('unregister needs --id');
    expect(parseClusterArgs([...bootstrap, 'unregister', '--id', '-1'])).toBe(
      "--id must be a broker id (a non-negative integer), got '-1'",
    );
    expect(parseClusterArgs([...bootstrap, 'cluster-id', '--id', '1'])).toBe('cluster-id takes no --id');
    expect(parseClusterArgs([...bootstrap])).toBe('a command is required: cluster-id or unregister');
    expect(parseClusterArgs([...bootstrap, 'frob'])).toBe("unknown command 'frob'");
    expect(parseClusterArgs(['cluster-id'])).toBe('--bootstrap-server is required');
    expect(
      parseClusterArgs([...bootstrap, 'cluster-id', '--config', 'a.properties', '--command-config', 'b']),
    ).toBe('--config and --command-config name the same file: give one');
  });
});
