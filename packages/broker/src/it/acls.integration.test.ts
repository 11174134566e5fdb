// ACLs on a real broker process with Kafka's StandardAuthorizer keys: authorizer.class.name,
// super.users (an admin user, and User:ANONYMOUS on the loopback-only PLAINTEXT listener that
// `gregor acls` uses), allow.everyone.if.no.acl.found=false. Clients authenticate with SASL/PLAIN
// on a SASL_PLAINTEXT listener. ACLs are managed with `gregor acls` (kafka-acls.sh's flags,
// --producer and --consumer included) and stored in the metadata log. kcat as alice sees and uses
// only what it was granted; kafkajs as bob is refused with TOPIC_AUTHORIZATION_FAILED and
// GROUP_AUTHORIZATION_FAILED; a DENY wins over an ALLOW; DeleteRecords needs DELETE on the topic;
// WriteTxnMarkers needs CLUSTER_ACTION on the cluster; OffsetFetch shows only describable topics;
// a transactional id needs WRITE on it; kafkajs's AlterConfigs on a topic needs ALTER_CONFIGS on it.

import { execFileSync, spawnSync } from 'node:child_process';
import { KafkaConnection } from '@gregor/client';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { ConfigResourceTypes, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';

const clientTimeoutMs = 60_000;

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 1,
    properties: {
      listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      'listener.security.protocol.map':
        'PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
      'sasl.enabled.mechanisms': 'PLAIN',
      'listener.name.sasl_plaintext.plain.sasl.jaas.config':
        'org.apache.kafka.common.security.plain.PlainLoginModule required ' +
        'user_admin="admin-secret" user_alice="alice-secret" user_bob="bob-secret";',
      'authorizer.class.name': 'org.apache.kafka.metadata.authorizer.StandardAuthorizer',
      'super.users': 'User:admin;User:ANONYMOUS',
      'allow.everyone.if.no.acl.found': 'false',
      'auto.create.topics.enable': 'false',
      'offsets.topic.replication.factor': '1',
      'offsets.topic.num.partitions': '1',
      'group.initial.rebalance.delay.ms': '0',
    },
  });
  const connection = await KafkaConnection.open({ host: '127.0.0.1', port: cluster.node(1).kafkaPort });
  try {
    const created = await connection.call(ApiKey.CreateTopics, 4, {
      topics: ['orders', 'secret'].map((name) => ({
        name,
        numPartitions: 1,
        replicationFactor: 1,
        assignments: [],
        configs: [],
      })),
      timeoutMs: 10_000,
      validateOnly: false,
    });
    expect(created.topics.map((topic) => topic.errorCode)).toEqual([ErrorCode.NONE, ErrorCode.NONE]);
  } finally {
    connection.close();
  }
});

afterAll(async () => {
  await cluster?.close();
});

const saslPort = () => cluster.node(1).listenerPorts.SASL_PLAINTEXT!;

function gregorAcls(args: readonly string[]): string {
  return execFileSync(
    process.execPath,
    [cliPath, 'acls', '--bootstrap-server', `127.0.0.1:${cluster.node(1).kafkaPort}`, ...args],
    { encoding: 'utf8', timeout: clientTimeoutMs },
  );
}

const plain = (user: string) => [
  '-X',
  'security.protocol=SASL_PLAINTEXT',
  '-X',
  'sasl.mechanisms=PLAIN',
  '-X',
  `sasl.username=${user}`,
  '-X',
  `sasl.password=${user}-secret`,
];

function kcat(user: string, args: readonly string[], input?: string): string {
  return execFileSync('kcat', ['-b', `127.0.0.1:${saslPort()}`, ...plain(user), ...args], {
    input,
    timeout: clientTimeoutMs,
    encoding: 'utf8',
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

function kafkajs(user: string) {
  return new Kafka({
    clientId: `acl-it-${user}`,
    brokers: [`127.0.0.1:${saslPort()}`],
    sasl: { mechanism: 'plain', username: user, password: `${user}-secret` },
    logLevel: logLevel.NOTHING,
    retry: { retries: 0 },
  });
}

async function produceError(user: string, topic: string): Promise<string | undefined> {
  const producer = kafkajs(user).producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, acks: -1, messages: [{ value: 'x' }] });
    return undefined;
  } catch (error) {
    const caught = error as Error & { cause?: Error; type?: string };
    return `${caught.type ?? ''} ${caught.message} ${caught.cause?.message ?? ''}`;
  } finally {
    await producer.disconnect();
  }
}

/** A kafkajs error with whatever it wraps: its message, type and per-partition error types. */
function errorText(error: unknown): string {
  const caught = error as {
    message?: string;
    type?: string;
    partitions?: { error?: { type?: string } }[];
    originalError?: unknown;
    cause?: unknown;
  };
  return [
    caught.message,
    caught.type,
    ...(caught.partitions ?? []).map((partition) => partition.error?.type),
    caught.originalError === undefined ? undefined : errorText(caught.originalError),
    caught.cause === undefined ? undefined : errorText(caught.cause),
  ]
    .filter((part) => part !== undefined)
    .join(' ');
}

/** A raw connection to the SASL_PLAINTEXT listener, authenticated as `user` with SASL/PLAIN. */
async function saslConnection(user: string): Promise<KafkaConnection> {
  const connection = await KafkaConnection.open({ host: '127.0.0.1', port: saslPort() });
  const handshake = await connection.call(ApiKey.SaslHandshake, 1, { mechanism: 'PLAIN' });
  expect(handshake.errorCode).toBe(ErrorCode.NONE);
  const authenticated = await connection.call(ApiKey.SaslAuthenticate, 1, {
    authBytes: Buffer.from(`\u0000${user}\u0000${user}-secret`),
  });
  expect(authenticated.errorCode).toBe(ErrorCode.NONE);
  return connection;
}

describe('ACLs', () => {
  it('gregor acls adds, in kafka-acls.sh shape, what --producer and --consumer grant', () => {
    const added = gregorAcls([
      '--add',
      '--allow-principal',
      'User:alice',
      '--producer',
      '--consumer',
      '--topic',
      'orders',
      '--group',
      'alice-group',
    ]);
    expect(added.trim().split('\n').sort()).toEqual(
      [
        'GROUP, name=alice-group, patternType=LITERAL): (principal=User:alice, host=*, operation=READ',
        'TOPIC, name=orders, patternType=LITERAL): (principal=User:alice, host=*, operation=CREATE',
        'TOPIC, name=orders, patternType=LITERAL): (principal=User:alice, host=*, operation=DESCRIBE',
        'TOPIC, name=orders, patternType=LITERAL): (principal=User:alice, host=*, operation=READ',
        'TOPIC, name=orders, patternType=LITERAL): (principal=User:alice, host=*, operation=WRITE',
      ]
        .map((line) => `Adding ACL: ResourcePattern(resourceType=${line}, permissionType=ALLOW)`)
        .sort(),
    );
    const listed = gregorAcls(['--list', '--topic', 'orders']);
    expect(listed).toContain(
      'Current ACLs for resource `ResourcePattern(resourceType=TOPIC, name=orders, patternType=LITERAL)`:',
    );
    expect(listed.match(/principal=User:alice/g)).toHaveLength(4);
  });

  it('kcat as alice sees only the topic it may describe, produces to it and consumes in its group', () => {
    const metadata = JSON.parse(kcat('alice', ['-L', '-J'])) as { topics: { topic: string }[] };
    expect(metadata.topics.map((topic) => topic.topic)).toEqual(['orders']);
    kcat('alice', ['-P', '-t', 'orders', '-X', 'acks=all'], 'granted\n');
    const consumed = kcat('alice', ['-C', '-t', 'orders', '-o', 'beginning', '-e', '-q']);
    expect(consumed.trim()).toBe('granted');
    const grouped = spawnSync(
      'kcat',
      [
        '-b',
        `127.0.0.1:${saslPort()}`,
        ...plain('alice'),
        '-G',
        'alice-group',
        '-o',
        'beginning',
        '-e',
        '-q',
        'orders',
      ],
      { encoding: 'utf8', timeout: clientTimeoutMs },
    );
    expect(grouped.stdout.trim()).toBe('granted');
  });

  it('kafkajs as bob gets TOPIC_AUTHORIZATION_FAILED and GROUP_AUTHORIZATION_FAILED', async () => {
    expect(await produceError('bob', 'orders')).toMatch(
      /TOPIC_AUTHORIZATION_FAILED|Not authorized to access topics/,
    );
    const admin = kafkajs('bob').admin();
    await admin.connect();
    try {
      expect(await admin.listTopics()).toEqual([]);
    } finally {
      await admin.disconnect();
    }
    // kafkajs reports a refused FindCoordinator only as "Failed to find group coordinator";
    // kafka-python raises the error Kafka sent.
    const script = `
import sys
from kafka import KafkaConsumer
consumer = KafkaConsumer('orders', group_id='alice-group', bootstrap_servers=sys.argv[1],
                         security_protocol='SASL_PLAINTEXT', sasl_mechanism='PLAIN',
                         sasl_plain_username='bob', sasl_plain_password='bob-secret')
try:
    consumer.poll(timeout_ms=10000)
    print('allowed')
except Exception as error:
    print(type(error).__name__)
`;
    const outcome = execFileSync('/usr/bin/python3', ['-c', script, `127.0.0.1:${saslPort()}`], {
      encoding: 'utf8',
      timeout: clientTimeoutMs,
    });
    expect(outcome.trim()).toBe('GroupAuthorizationFailedError');
  });

  it('a DENY wins over the ALLOW, until it is removed', async () => {
    gregorAcls(['--add', '--deny-principal', 'User:alice', '--operation', 'Write', '--topic', 'orders']);
    expect(await produceError('alice', 'orders')).toMatch(
      /TOPIC_AUTHORIZATION_FAILED|Not authorized to access topics/,
    );
    const removed = gregorAcls([
      '--remove',
      '--deny-principal',
      'User:alice',
      '--operation',
      'Write',
      '--topic',
      'orders',
    ]);
    expect(removed).toContain('Removed ACL:');
    expect(await produceError('alice', 'orders')).toBeUndefined();
  });

  it('DeleteRecords needs DELETE on the topic: alice, who may produce and consume, is refused', async () => {
    const deleteAsUser = async (user: string): Promise<string | undefined> => {
      const admin = kafkajs(user).admin();
      await admin.connect();
      try {
        // kafkajs looks the leader up in the metadata it already has: fetch the topic's first.
        await admin.fetchTopicMetadata({ topics: ['orders'] });
        await admin.deleteTopicRecords({ topic: 'orders', partitions: [{ partition: 0, offset: '0' }] });
        return undefined;
      } catch (error) {
        return errorText(error);
      } finally {
        await admin.disconnect();
      }
    };
    expect(await deleteAsUser('alice')).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
    expect(await deleteAsUser('admin')).toBeUndefined();
  });

  it('WriteTxnMarkers needs CLUSTER_ACTION on the cluster: alice cannot close a transaction', async () => {
    const writeMarkerAs = async (user: string): Promise<number | undefined> => {
      const connection = await saslConnection(user);
      try {
        const response = await connection.call(ApiKey.WriteTxnMarkers, 1, {
          markers: [
            {
              producerId: 4242n,
              producerEpoch: 0,
              transactionResult: false,
              topics: [{ name: 'orders', partitionIndexes: [0] }],
              coordinatorEpoch: 0,
            },
          ],
        });
        return response.markers[0]?.topics[0]?.partitions[0]?.errorCode;
      } finally {
        connection.close();
      }
    };
    expect(await writeMarkerAs('alice')).toBe(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    // The super user passes the check; the marker for a producer the partition never saw is written.
    expect(await writeMarkerAs('admin')).toBe(ErrorCode.NONE);
  });

  it('OffsetFetch shows alice only the topics she may describe, and only her group', async () => {
    // The admin commits offsets of alice's group for a topic alice may not see.
    const admin = await saslConnection('admin');
    try {
      const committed = await admin.call(ApiKey.OffsetCommit, 2, {
        groupId: 'alice-group',
        generationId: -1,
        memberId: '',
        retentionTimeMs: -1n,
        topics: [
          { name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 1n, committedMetadata: '' }] },
          { name: 'secret', partitions: [{ partitionIndex: 0, committedOffset: 7n, committedMetadata: '' }] },
        ],
      });
      expect(committed.topics.flatMap((topic) => topic.partitions.map((p) => p.errorCode))).toEqual([
        ErrorCode.NONE,
        ErrorCode.NONE,
      ]);
    } finally {
      admin.close();
    }
    const alice = await saslConnection('alice');
    try {
      const all = await alice.call(ApiKey.OffsetFetch, 5, { groupId: 'alice-group', topics: null });
      expect(all.errorCode).toBe(ErrorCode.NONE);
      expect(all.topics.map((topic) => topic.name)).toEqual(['orders']);
      const asked = await alice.call(ApiKey.OffsetFetch, 5, {
        groupId: 'alice-group',
        topics: [
          { name: 'orders', partitionIndexes: [0] },
          { name: 'secret', partitionIndexes: [0] },
        ],
      });
      const byTopic = Object.fromEntries(asked.topics.map((topic) => [topic.name, topic.partitions[0]]));
      expect(byTopic.orders).toMatchObject({ committedOffset: 1n, errorCode: ErrorCode.NONE });
      expect(byTopic.secret).toMatchObject({
        committedOffset: -1n,
        errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED,
      });
      // Version 8 asks for several groups: each is judged on its own.
      const batched = await alice.call(ApiKey.OffsetFetch, 8, {
        groupId: '',
        topics: [],
        groups: [
          { groupId: 'alice-group', topics: null },
          { groupId: 'bob-group', topics: null },
        ],
        requireStable: false,
      });
      expect(batched.groups.map((group) => [group.groupId, group.errorCode])).toEqual([
        ['alice-group', ErrorCode.NONE],
        ['bob-group', ErrorCode.GROUP_AUTHORIZATION_FAILED],
      ]);
      expect(batched.groups[0]?.topics.map((topic) => topic.name)).toEqual(['orders']);
    } finally {
      alice.close();
    }
  });

  it('a transactional id needs WRITE: alice is refused until kafka-acls-style --producer --transactional-id grants it', async () => {
    const transact = async (): Promise<string | undefined> => {
      const producer = kafkajs('alice').producer({
        transactionalId: 'alice-txn',
        idempotent: true,
        maxInFlightRequests: 1,
        allowAutoTopicCreation: false,
        // kafkajs refuses an idempotent producer without retries.
        retry: { retries: 3 },
      });
      try {
        await producer.connect();
        const transaction = await producer.transaction();
        await transaction.send({ topic: 'orders', messages: [{ value: 'in-a-transaction' }] });
        await transaction.commit();
        return undefined;
      } catch (error) {
        return errorText(error);
      } finally {
        await producer.disconnect();
      }
    };
    // kafkajs reports the refusal of its FindCoordinator as "Failed to find group coordinator":
    // ask as it does, on the wire, for the error codes, then see kafkajs fail.
    const alice = await saslConnection('alice');
    try {
      const coordinator = await alice.call(ApiKey.FindCoordinator, 3, { key: 'alice-txn', keyType: 1 });
      expect(coordinator.errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
      const init = await alice.call(ApiKey.InitProducerId, 3, {
        transactionalId: 'alice-txn',
        transactionTimeoutMs: 60_000,
        producerId: -1n,
        producerEpoch: -1,
      });
      expect(init.errorCode).toBe(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    } finally {
      alice.close();
    }
    expect(await transact()).toMatch(/coordinator/);
    gregorAcls(['--add', '--allow-principal', 'User:alice', '--producer', '--transactional-id', 'alice-txn']);
    expect(await transact()).toBeUndefined();
    const committed = kcat('alice', [
      '-C',
      '-t',
      'orders',
      '-o',
      'beginning',
      '-e',
      '-q',
      '-X',
      'isolation.level=read_committed',
    ]);
    expect(committed.split('\n')).toContain('in-a-transaction');
  });

  it('AlterConfigs on a topic needs ALTER_CONFIGS on it: kafkajs as alice is refused until granted', async () => {
    const alterAs = async (user: string, value: string): Promise<string | undefined> => {
      const admin = kafkajs(user).admin();
      await admin.connect();
      try {
        await admin.alterConfigs({
          validateOnly: false,
          resources: [
            {
              type: ConfigResourceTypes.TOPIC,
              name: 'orders',
              configEntries: [{ name: 'retention.ms', value }],
            },
          ],
        });
        return undefined;
      } catch (error) {
        return errorText(error);
      } finally {
        await admin.disconnect();
      }
    };
    const retentionMs = async (): Promise<string | undefined> => {
      const admin = kafkajs('admin').admin();
      await admin.connect();
      try {
        const described = await admin.describeConfigs({
          includeSynonyms: false,
          resources: [{ type: ConfigResourceTypes.TOPIC, name: 'orders', configNames: ['retention.ms'] }],
        });
        return described.resources[0]?.configEntries[0]?.configValue;
      } finally {
        await admin.disconnect();
      }
    };
    const before = await retentionMs();
    expect(await alterAs('alice', '3600000')).toMatch(/TOPIC_AUTHORIZATION_FAILED/);
    expect(await retentionMs()).toBe(before);
    gregorAcls([
      '--add',
      '--allow-principal',
      'User:alice',
      '--operation',
      'AlterConfigs',
      '--topic',
      'orders',
    ]);
    expect(await alterAs('alice', '3600000')).toBeUndefined();
    expect(await retentionMs()).toBe('3600000');
  });

  it('the super user admin may do everything', async () => {
    expect(await produceError('admin', 'secret')).toBeUndefined();
  });
});
