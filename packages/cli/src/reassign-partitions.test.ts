import { configResourceType } from '@gregor/protocol';
import { describe, expect, it } from 'vitest';
import {
  logDirThrottleConfigs,
  parseReassignPartitionsArgs,
  runReassignPartitions,
  throttleConfigs,
} from './reassign-partitions.js';
import {
  formatReassignmentJson,
  type PartitionReplicas,
  parseBrokerList,
  parseReassignmentJson,
  parseTopicsToMoveJson,
  proposeReassignment,
  replicaLogDirs,
} from './reassign-partitions-json.js';

const bootstrap = ['--bootstrap-server', '127.0.0.1:9092'];

function capture() {
  let text = '';
  const write = (chunk: string): boolean => {
    text += chunk;
    return true;
  };
  return { write, text: () => text };
}

describe('gregor reassign-partitions arguments', () => {
  it('takes exactly one action with the files it needs', () => {
    expect(
      parseReassignPartitionsArgs([...bootstrap, '--execute', '--reassignment-json-file', 'r.json']),
    ).toMatchObject({
      action: { kind: 'execute', file: 'r.json', additional: false },
    });
    expect(parseReassignPartitionsArgs([...bootstrap, '--list'])).toMatchObject({ action: { kind: 'list' } });
    expect(
      parseReassignPartitionsArgs([
        ...bootstrap,
        '--generate',
        '--topics-to-move-json-file',
        't.json',
        '--broker-list',
        '3,1',
      ]),
    ).toMatchObject({ action: { kind: 'generate', topicsFile: 't.json', brokerIds: [3, 1] } });
    expect(
      parseReassignPartitionsArgs([...bootstrap, '--verify', '--cancel', '--reassignment-json-file', 'r']),
    ).toBe('Command must include exactly one action: --generate, --execute, --verify, --cancel or --list');
    expect(parseReassignPartitionsArgs([...bootstrap, '--verify'])).toBe(
      '--verify needs --reassignment-json-file',
    );
    expect(parseReassignPartitionsArgs([...bootstrap, '--generate', '--broker-list', '1'])).toBe(
      '--generate needs --topics-to-move-json-file',
    );
    expect(parseReassignPartitionsArgs([...bootstrap, '--list', '--broker-list', '1'])).toBe(
      '--broker-list is not valid with --list',
    );
    expect(parseReassignPartitionsArgs(['--list'])).toBe('--bootstrap-server is required');
    expect(parseReassignPartitionsArgs([...bootstrap, '--list', '--throttle', '10'])).toBe(
      '--throttle is not valid with --list',
    );
    expect(
      parseReassignPartitionsArgs([...bootstrap, '--list', '--replica-alter-log-dirs-throttle', '10']),
    ).toBe('--replica-alter-log-dirs-throttle is not valid with --list');
    expect(parseReassignPartitionsArgs([...bootstrap, '--list', '--unknown'])).toBe(
      "unknown option '--unknown'",
    );
    expect(parseReassignPartitionsArgs([...bootstrap, '--list', '--disable-rack-aware'])).toBe(
      '--disable-rack-aware is not valid with --list',
    );
    expect(parseReassignPartitionsArgs(['--help'])).toBe('help');
  });

  it('takes --throttle in bytes/s with --execute and --preserve-throttles with --verify', () => {
    const execute = [...bootstrap, '--execute', '--reassignment-json-file', 'r.json'];
    expect(parseReassignPartitionsArgs([...execute, '--throttle', '50000000'])).toMatchObject({
      action: { kind: 'execute', throttle: 50_000_000 },
    });
    expect(parseReassignPartitionsArgs(execute)).toMatchObject({ action: { throttle: undefined } });
    for (const bad of ['0', '-5', '1.5', 'fast']) {
      expect(parseReassignPartitionsArgs([...execute, '--throttle', bad])).toBe(
        `--throttle must be a number of bytes per second, not '${bad}'`,
      );
    }
    const verify = [...bootstrap, '--verify', '--reassignment-json-file', 'r.json'];
    expect(parseReassignPartitionsArgs([...verify, '--replica-alter-log-dirs-throttle', '5'])).toBe(
      '--replica-alter-log-dirs-throttle is not valid with --verify',
    );
    expect(parseReassignPartitionsArgs(verify)).toMatchObject({ action: { preserveThrottles: false } });
    expect(parseReassignPartitionsArgs([...verify, '--preserve-throttles'])).toMatchObject({
      action: { kind: 'verify', preserveThrottles: true },
    });
  });

  it('takes --replica-alter-log-dirs-throttle in bytes/s with --execute, beside --throttle or alone', () => {
    const execute = [...bootstrap, '--execute', '--reassignment-json-file', 'r.json'];
    expect(
      parseReassignPartitionsArgs([...execute, '--replica-alter-log-dirs-throttle', '2000000']),
    ).toMatchObject({
      action: { kind: 'execute', throttle: undefined, logDirThrottle: 2_000_000 },
    });
    expect(
      parseReassignPartitionsArgs([...execute, '--throttle', '7', '--replica-alter-log-dirs-throttle', '9']),
    ).toMatchObject({ action: { throttle: 7, logDirThrottle: 9 } });
    expect(parseReassignPartitionsArgs(execute)).toMatchObject({ action: { logDirThrottle: undefined } });
    for (const bad of ['0', '-5', '1.5', 'fast']) {
      expect(parseReassignPartitionsArgs([...execute, '--replica-alter-log-dirs-throttle', bad])).toBe(
        `--replica-alter-log-dirs-throttle must be a number of bytes per second, not '${bad}'`,
      );
    }
  });

  it('bounds the copies between log dirs on each broker with a replica the file moves there, once', () => {
    const moves = replicaLogDirs(
      parseReassignmentJson(
        '{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[3,1,2],"log_dirs":["/b","any","/c"]},' +
          '{"topic":"u","partition":1,"replicas":[2,4],"log_dirs":["/b","any"]}]}',
      ) as PartitionReplicas[],
    );
    const changes = logDirThrottleConfigs(moves, 3000);
    expect(
      changes.map((change) => ({
        type: change.resourceType,
        name: change.resourceName,
        configs: Object.fromEntries(change.configs),
      })),
    ).toEqual(
      ['2', '3'].map((name) => ({
        type: configResourceType.broker,
        name,
        configs: { 'replica.alter.log.dirs.io.max.bytes.per.second': '3000' },
      })),
    );
    expect(logDirThrottleConfigs([], 3000)).toEqual([]);
  });

  it('throttles the current replicas on the leader side, the added ones on the follower side, and rates every broker of both', () => {
    const current = [
      { topic: 't', partition: 0, replicas: [1, 2] },
      { topic: 't', partition: 1, replicas: [2, 3] },
      { topic: 'u', partition: 0, replicas: [1] },
    ];
    const target = [
      { topic: 't', partition: 0, replicas: [1, 4] },
      { topic: 't', partition: 1, replicas: [2, 3] },
      { topic: 'u', partition: 0, replicas: [5] },
    ];
    const changes = throttleConfigs(current, target, 1000);
    expect(
      changes.map((change) => [change.resourceType, change.resourceName, Object.fromEntries(change.configs)]),
    ).toEqual([
      [
        configResourceType.topic,
        't',
        {
          'leader.replication.throttled.replicas': '0:1,0:2',
          'follower.replication.throttled.replicas': '0:4',
        },
      ],
      [
        configResourceType.topic,
        'u',
        {
          'leader.replication.throttled.replicas': '0:1',
          'follower.replication.throttled.replicas': '0:5',
        },
      ],
      ...[1, 2, 4, 5].map((id) => [
        configResourceType.broker,
        String(id),
        {
          'leader.replication.throttled.rate': '1000',
          'follower.replication.throttled.rate': '1000',
        },
      ]),
    ]);
  });

  it('prints its usage on --help and names a usage error with exit code 2', async () => {
    const out = capture();
    const err = capture();
    expect(await runReassignPartitions(['--help'], out, err)).toBe(0);
    expect(out.text()).toContain('--reassignment-json-file');
    expect(
      await runReassignPartitions(
        [...bootstrap, '--execute', '--reassignment-json-file', '/nonexistent/r.json'],
        out,
        err,
      ),
    ).toBe(2);
    expect(err.text()).toContain('cannot read /nonexistent/r.json');
  });

  it('reads --broker-list as distinct ids', () => {
    expect(parseBrokerList('1,2,3')).toEqual([1, 2, 3]);
    expect(parseBrokerList('1,x')).toBe("--broker-list must be comma-separated broker ids, got '1,x'");
    expect(parseBrokerList('1,1')).toBe("--broker-list contains duplicate entries: '1,1'");
  });
});

describe('reassignment files', () => {
  it("reads Kafka's version 1 file and names what is wrong with a bad one", () => {
    expect(
      parseReassignmentJson(
        '{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[3,2],"log_dirs":["any","any"]}]}',
      ),
    ).toEqual([{ topic: 't', partition: 0, replicas: [3, 2] }]);
    expect(parseReassignmentJson('{"version":2,"partitions":[]}')).toBe(
      'Not supported version field value 2',
    );
    expect(parseReassignmentJson('{"partitions":[]}')).toBe('Partition reassignment list cannot be empty');
    expect(parseReassignmentJson('{"partitions":[{"topic":"t","partition":0,"replicas":[]}]}')).toBe(
      'Partition replica list cannot be empty for t-0',
    );
    expect(parseReassignmentJson('{"partitions":[{"topic":"t","partition":0,"replicas":[1,1]}]}')).toBe(
      'Duplicate replica assignment found: t-0 -> 1,1',
    );
    expect(
      parseReassignmentJson(
        '{"partitions":[{"topic":"t","partition":0,"replicas":[1]},{"topic":"t","partition":0,"replicas":[2]}]}',
      ),
    ).toBe('Duplicate partition t-0 in the reassignment file');
    expect(
      parseReassignmentJson('{"partitions":[{"topic":"t","partition":0,"replicas":[1],"log_dirs":[""]}]}'),
    ).toContain('"log_dirs" entries must be "any" or a log dir path');
    expect(
      parseReassignmentJson(
        '{"partitions":[{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any"]}]}',
      ),
    ).toContain('one entry per replica');
    expect(parseReassignmentJson('{')).toMatch(/^not JSON/);
  });

  it('reads log_dirs: the replicas that name a dir are the ones to move (AlterReplicaLogDirs)', () => {
    const parsed = parseReassignmentJson(
      '{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["/data/b","any"]},' +
        '{"topic":"u","partition":3,"replicas":[2]}]}',
    );
    if (typeof parsed === 'string') throw new Error(parsed);
    expect(parsed[0]).toEqual({ topic: 't', partition: 0, replicas: [1, 2], logDirs: ['/data/b', 'any'] });
    expect(replicaLogDirs(parsed)).toEqual([{ topic: 't', partition: 0, brokerId: 1, logDir: '/data/b' }]);
  });

  it('reads the topics-to-move file', () => {
    expect(parseTopicsToMoveJson('{"version":1,"topics":[{"topic":"a"},{"topic":"b"}]}')).toEqual(['a', 'b']);
    expect(parseTopicsToMoveJson('{"version":1,"topics":[]}')).toEqual({
      problem: 'List of topics to reassign contains no topics',
    });
  });

  it('proposes each topic on the broker list with its replication factor, leaders round robin', () => {
    const current = [0, 1, 2, 3].map((partition) => ({ topic: 't', partition, replicas: [1, 2] }));
    const firstBroker = { nextInt: () => 0 };
    const proposed = proposeReassignment(current, [4, 3, 5], firstBroker);
    expect(proposed).toEqual([
      { topic: 't', partition: 0, replicas: [3, 4] },
      { topic: 't', partition: 1, replicas: [4, 5] },
      { topic: 't', partition: 2, replicas: [5, 3] },
      { topic: 't', partition: 3, replicas: [3, 5] },
    ]);
    expect(proposeReassignment(current, [4], firstBroker)).toBe(
      'Replication factor: 2 larger than available brokers: 1.',
    );
    expect(formatReassignmentJson([{ topic: 't', partition: 0, replicas: [3, 4] }])).toBe(
      '{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[3,4],"log_dirs":["any","any"]}]}',
    );
  });
});
