import { describe, expect, it } from 'vitest';
import { dynamicBrokerDefault, dynamicBrokerTopicDefaults } from './broker-configs.js';
import { type AlterConfigOperation, ConfigurationControlManager } from './configuration-control.js';
import { ControllerBatch } from './controller-batch.js';
import { defaultControllerConfig } from './controller-config.js';
import { ControllerErrorCode as E } from './errors.js';
import { applyRecords, MetadataImage } from './image.js';
import { brokerResourceType } from './records.js';
import { decodeImageSnapshot, encodeImageSnapshot } from './snapshot.js';
import { ControllerHarness } from './testing/controller-harness.js';

function alterBroker(h: ControllerHarness, resourceName: string, operations: AlterConfigOperation[]) {
  return h.controller.incrementalAlterTopicConfigs(
    { topicName: resourceName, operations, resourceType: brokerResourceType },
    { validateOnly: false },
  );
}

const set = (name: string, value: string): AlterConfigOperation => ({ name, operation: 'set', value });

describe('dynamic broker configs in the controller', () => {
  it('stores cluster-default and per-broker values as BROKER config records, and removes them', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2]);
    h.ok(alterBroker(h, '', [set('log.retention.ms', '60000'), set('log.segment.bytes', '1048576')]));
    h.ok(alterBroker(h, '2', [set('log.retention.ms', '5000')]));
    expect(Object.fromEntries(h.committed.brokerConfigs(''))).toEqual({
      'log.retention.ms': '60000',
      'log.segment.bytes': '1048576',
    });
    expect(dynamicBrokerDefault(h.committed, 1, 'log.retention.ms')).toBe('60000');
    expect(dynamicBrokerDefault(h.committed, 2, 'log.retention.ms')).toBe('5000');
    // The per-broker value wins over the cluster default, as topic keys over the static defaults.
    expect(dynamicBrokerTopicDefaults(h.committed, 2)).toEqual({
      'retention.ms': '5000',
      'segment.bytes': '1048576',
    });
    h.ok(alterBroker(h, '2', [{ name: 'log.retention.ms', operation: 'delete', value: null }]));
    expect(h.committed.brokerConfigs('2').size).toBe(0);
    expect(dynamicBrokerTopicDefaults(h.committed, 2)['retention.ms']).toBe('60000');
  });

  it('refuses static and unknown keys, bad values and bad resource names, changing nothing', () => {
    const h = new ControllerHarness();
    h.startBrokers([1]);
    const staticKey = h.fail(alterBroker(h, '', [set('log.retention.ms', '1'), set('log.dirs', '/x')]));
    expect(staticKey.errorCode).toBe(E.INVALID_CONFIG);
    expect(staticKey.errorMessage).toContain('log.dirs');
    const badValue = h.fail(alterBroker(h, '', [set('log.retention.ms', 'soon')]));
    expect(badValue).toMatchObject({ errorCode: E.INVALID_CONFIG });
    expect(badValue.errorMessage).toContain('log.retention.ms must be a long');
    expect(h.fail(alterBroker(h, '', [set('min.insync.replicas', '0')])).errorCode).toBe(E.INVALID_CONFIG);
    expect(h.fail(alterBroker(h, '', [set('log.cleanup.policy', 'shred')])).errorCode).toBe(E.INVALID_CONFIG);
    expect(h.fail(alterBroker(h, 'b1', [set('log.retention.ms', '1')])).errorCode).toBe(E.INVALID_REQUEST);
    expect(h.committed.dynamicBrokerConfigs.size).toBe(0);
  });

  it('appends to the list config log.cleanup.policy from its default', () => {
    const h = new ControllerHarness();
    h.startBrokers([1]);
    h.ok(alterBroker(h, '', [{ name: 'log.cleanup.policy', operation: 'append', value: 'compact' }]));
    expect(h.committed.brokerConfigs('').get('log.cleanup.policy')).toBe('delete,compact');
  });

  it('lets the cluster-default unclean.leader.election.enable elect offline partitions at once, unless a topic turns it off', () => {
    const h = new ControllerHarness();
    h.startBrokers([1, 2]);
    h.createTopic('t', 1, 2);
    h.createTopic('kept', 4, 2, { 'unclean.leader.election.enable': 'false' });
    const leader = h.partition('t', 0).leader;
    h.ok(h.alterIsr('t', 0, [leader]));
    // A partition of 'kept' led by the same broker, with the same ISR of one.
    const keptIndex = [0, 1, 2, 3].find((index) => h.partition('kept', index).leader === leader)!;
    h.ok(h.alterIsr('kept', keptIndex, [leader]));
    h.heartbeat(leader, { wantFence: true });
    expect(h.partition('t', 0).leader).toBe(-1);
    expect(h.partition('kept', keptIndex).leader).toBe(-1);
    const response = h.ok(alterBroker(h, '', [set('unclean.leader.election.enable', 'true')]));
    expect(response.uncleanLeaderElectionCount).toBe(1);
    expect(h.partition('t', 0).leader).not.toBe(-1);
    expect(h.partition('kept', keptIndex).leader).toBe(-1);
  });

  it('takes the cluster-default min.insync.replicas where the topic sets none', () => {
    const h = new ControllerHarness();
    h.startBrokers([1]);
    h.createTopic('t', 1, 1);
    h.createTopic('own', 1, 1, { 'min.insync.replicas': '1' });
    h.ok(alterBroker(h, '', [set('min.insync.replicas', '2')]));
    const configuration = new ConfigurationControlManager(defaultControllerConfig, () => h.committed);
    const batch = new ControllerBatch(h.committed);
    expect(configuration.minInsyncReplicas(batch, 't')).toBe(2);
    expect(configuration.minInsyncReplicas(batch, 'own')).toBe(1);
    expect(h.committed.brokerConfigs('').get('min.insync.replicas')).toBe('2');
  });

  it('keeps dynamic broker configs in snapshots', () => {
    const h = new ControllerHarness();
    h.startBrokers([1]);
    h.ok(alterBroker(h, '', [set('log.retention.ms', '60000')]));
    h.ok(alterBroker(h, '1', [set('compression.type', 'zstd')]));
    const restored = decodeImageSnapshot(encodeImageSnapshot(h.committed));
    expect(Object.fromEntries(restored.brokerConfigs(''))).toEqual({ 'log.retention.ms': '60000' });
    expect(Object.fromEntries(restored.brokerConfigs('1'))).toEqual({ 'compression.type': 'zstd' });
    // And a log replayed from scratch holds them too, without any broker registered.
    const replayed = applyRecords(MetadataImage.empty, [
      { type: 'config', resourceType: brokerResourceType, resourceName: '', name: 'log.roll.ms', value: '1' },
    ]);
    expect(replayed.brokerConfigs('').get('log.roll.ms')).toBe('1');
  });
});
