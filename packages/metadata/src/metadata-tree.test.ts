import { describe, expect, it } from 'vitest';
import { applyRecords } from './image.js';
import { cat, ls, metadataTree, tree } from './metadata-tree.js';
import { ControllerHarness } from './testing/controller-harness.js';

function cluster() {
  const h = new ControllerHarness();
  h.startBrokers([1, 2, 10]);
  h.register(3);
  const { topicId } = h.createTopic('orders', 2, 2, { 'retention.ms': '60000' });
  h.createTopic('audit', 1, 1);
  h.ok(h.controller.allocateProducerIds({ brokerId: 1, brokerEpoch: h.brokerEpochs.get(1)! }));
  h.ok(
    h.controller.incrementalAlterTopicConfigs(
      {
        topicName: '',
        resourceType: 4,
        operations: [{ name: 'log.retention.ms', operation: 'set', value: '1000' }],
      },
      { validateOnly: false },
    ),
  );
  const root = metadataTree(h.committed, { clusterId: 'cluster-x', controllerId: 3000 });
  return { h, root, topicId };
}

describe('metadata tree', () => {
  it('lays the image out as ZooKeeper-era paths', () => {
    const { h, root, topicId } = cluster();
    expect(ls(root, '/')).toEqual([
      'brokers',
      'cluster',
      'clusterSecret',
      'configs',
      'controller',
      'controller_epoch',
      'features',
      'producerIds',
      'topicIds',
    ]);
    expect(cat(root, '/clusterSecret')).toBe('<redacted>');
    expect(cat(root, '/cluster/id')).toBe('cluster-x');
    expect(cat(root, '/controller')).toBe('3000');
    expect(cat(root, '/controller_epoch')).toBe('1');
    expect(ls(root, '/brokers/ids')).toEqual(['1', '2', '3', '10']);
    expect(JSON.parse(cat(root, '/brokers/ids/3') as string)).toMatchObject({
      brokerId: 3,
      fenced: true,
      brokerEpoch: h.brokerEpochs.get(3),
      listeners: [{ name: 'PLAINTEXT', host: 'broker-3', port: 9092, securityProtocol: 0 }],
    });
    expect(ls(root, '/brokers/topics')).toEqual(['audit', 'orders']);
    expect(JSON.parse(cat(root, '/brokers/topics/orders') as string)).toEqual({
      topicId,
      partitionCount: 2,
      configs: { 'retention.ms': '60000' },
    });
    expect(ls(root, '/brokers/topics/orders/partitions')).toEqual(['0', '1']);
    const state = h.partition('orders', 1);
    expect(JSON.parse(cat(root, '/brokers/topics/orders/partitions/1/state') as string)).toEqual({
      leader: state.leader,
      leaderEpoch: state.leaderEpoch,
      isr: state.isr,
      replicas: state.replicas,
      partitionEpoch: state.partitionEpoch,
    });
    expect(JSON.parse(cat(root, '/configs/topics/orders') as string)).toEqual({ 'retention.ms': '60000' });
    expect(JSON.parse(cat(root, '/configs/topics/audit') as string)).toEqual({});
    expect(ls(root, '/configs/brokers')).toEqual(['<default>']);
    expect(JSON.parse(cat(root, '/configs/brokers/<default>') as string)).toEqual({
      'log.retention.ms': '1000',
    });
    expect(cat(root, `/topicIds/${topicId}`)).toBe('orders');
    expect(JSON.parse(cat(root, '/producerIds') as string)).toMatchObject({
      brokerId: 1,
      nextProducerId: 1000,
    });
  });

  it("shows a reassignment's adding and removing replicas while it is in progress", () => {
    const { h } = cluster();
    const before = h.partition('audit', 0);
    const target = before.replicas[0] === 10 ? [1] : [10];
    h.ok(
      h.controller.alterPartitionReassignments({
        topics: [{ name: 'audit', partitions: [{ partitionIndex: 0, replicas: target }] }],
        allowReplicationFactorChange: true,
      }),
    );
    const root = metadataTree(h.committed, { clusterId: 'cluster-x', controllerId: 3000 });
    expect(JSON.parse(cat(root, '/brokers/topics/audit/partitions/0/state') as string)).toMatchObject({
      replicas: [...target, ...before.replicas],
      addingReplicas: target,
      removingReplicas: before.replicas,
    });
  });

  it('shows each finalized feature level under /features', () => {
    const { h } = cluster();
    const image = applyRecords(h.committed, [{ type: 'featureLevel', name: 'group.version', level: 1 }]);
    const root = metadataTree(image, { clusterId: 'cluster-x', controllerId: 3000 });
    expect(ls(root, '/features')).toEqual(['group.version', 'transaction.version']);
    expect(cat(root, '/features/group.version')).toBe('1');
  });

  it('resolves relative components and reports missing nodes as values', () => {
    const { root } = cluster();
    expect(cat(root, '/brokers/../cluster/./id')).toBe('cluster-x');
    expect(ls(root, '/nope')).toEqual({ error: '/nope: no such node' });
    expect(cat(root, '/brokers')).toEqual({ error: '/brokers: is a directory' });
    expect(cat(root, '/brokers/ids/4')).toEqual({ error: '/brokers/ids/4: no such node' });
  });

  it('prints a subtree', () => {
    const { root } = cluster();
    const text = tree(root, '/brokers/topics/audit') as string;
    expect(text.split('\n')).toEqual([
      expect.stringMatching(/^\/brokers\/topics\/audit: \{"topicId":/),
      '  partitions',
      '    0',
      expect.stringMatching(/^ {6}state: \{"leader":/),
    ]);
    expect(tree(root, '/missing')).toEqual({ error: '/missing: no such node' });
  });
});
