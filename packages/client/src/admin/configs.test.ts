import { describe, expect, it } from 'vitest';
import { byTarget, ConfigResourceTypes, targetNode } from './configs.js';

describe('config resources', () => {
  it('sends a broker resource named by id to that broker, the rest to any broker', () => {
    expect(targetNode({ type: ConfigResourceTypes.BROKER, name: '2' })).toBe(2);
    // The empty name is the cluster-wide default: any broker answers it.
    expect(targetNode({ type: ConfigResourceTypes.BROKER, name: '' })).toBe(-1);
    expect(targetNode({ type: ConfigResourceTypes.TOPIC, name: '2' })).toBe(-1);
  });

  it('answers in the order the resources were given, whichever broker answered each', async () => {
    const resources = [
      { type: ConfigResourceTypes.TOPIC, name: 'a' },
      { type: ConfigResourceTypes.BROKER, name: '3' },
      { type: ConfigResourceTypes.TOPIC, name: 'b' },
      { type: ConfigResourceTypes.BROKER, name: '1' },
    ];
    const asked: [number, string[]][] = [];
    const results = await byTarget(resources, async (node, group) => {
      asked.push([node, group.map((resource) => resource.name)]);
      return group.map((resource) => `${resource.name}@${node}`);
    });
    expect(results).toEqual(['a@-1', '3@3', 'b@-1', '1@1']);
    expect(asked).toEqual([
      [-1, ['a', 'b']],
      [3, ['3']],
      [1, ['1']],
    ]);
  });
});
