import { describe, expect, it } from 'vitest';
import {
  type ClusterView,
  cutBetween,
  faultKinds,
  ledBy,
  networkFaultOverSessionMs,
  parseFaultWeights,
  planCut,
  planSchedule,
  resolveTarget,
} from './scheduler.js';

const allKinds = parseFaultWeights('all');
const plan = (seed: number, weights = allKinds, faultCountMax = 40) =>
  planSchedule({ seed, weights, faultCountMax, churnCountMax: 20, sessionTimeoutMs: 1_500 });

describe('the fault scheduler', () => {
  it('gives the same plan for the same seed and another for another seed', () => {
    expect(plan(42)).toEqual(plan(42));
    expect(plan(42)).not.toEqual(plan(43));
  });

  it('plays every enabled kind once before any repeats, so a short campaign covers them all', () => {
    const first = plan(7)
      .faults.slice(0, faultKinds.length)
      .map((fault) => fault.kind);
    expect(new Set(first)).toEqual(new Set(faultKinds));
  });

  it('follows the weights after the first round', () => {
    const weights = parseFaultWeights('kill-leader:9,pause-follower:1');
    const kinds = plan(3, weights, 1_000)
      .faults.slice(2)
      .map((fault) => fault.kind);
    const leaderKills = kinds.filter((kind) => kind === 'kill-leader').length;
    expect(leaderKills / kinds.length).toBeGreaterThan(0.85);
    expect(leaderKills / kinds.length).toBeLessThan(0.95);
  });

  it('draws pauses both shorter and longer than the session timeout', () => {
    const pauses = plan(11, parseFaultWeights('pause'), 200).faults;
    expect(pauses.some((fault) => fault.durationMs < 1_500)).toBe(true);
    expect(pauses.some((fault) => fault.durationMs > 1_500)).toBe(true);
  });

  it('scales durations and gaps by the pace, but keeps network cuts longer than the session timeout', () => {
    const paced = (pace: number) =>
      planSchedule({
        seed: 5,
        weights: allKinds,
        faultCountMax: 200,
        churnCountMax: 0,
        sessionTimeoutMs: 1_500,
        pace,
      }).faults;
    const full = paced(1);
    const half = paced(0.5);
    // The same kinds and targets, in the same order: the pace changes times only.
    expect(half.map((fault) => [fault.kind, fault.pick])).toEqual(
      full.map((fault) => [fault.kind, fault.pick]),
    );
    const cuts = (faults: typeof full) =>
      faults.filter((fault) =>
        [
          'isolate-node',
          'isolate-leader',
          'isolate-controller',
          'split-halves',
          'one-way',
          'bridge',
        ].includes(fault.kind),
      );
    expect(cuts(half).length).toBeGreaterThan(10);
    for (const fault of cuts(half))
      expect(fault.durationMs).toBeGreaterThanOrEqual(1_500 + networkFaultOverSessionMs);
    // Pace 1 draws from 2 s up: the floor changes none of its cuts.
    expect(cuts(full).every((fault) => fault.durationMs >= 2_000)).toBe(true);
    const kills = (faults: typeof full) => faults.filter((fault) => fault.kind === 'kill-leader');
    expect(Math.max(...kills(half).map((fault) => fault.durationMs))).toBeLessThanOrEqual(2_500);
    expect(Math.max(...kills(full).map((fault) => fault.durationMs))).toBeGreaterThan(2_500);
    const gapsMs = (faults: typeof full) => faults.reduce((sum, fault) => sum + fault.gapMs, 0);
    expect(gapsMs(half)).toBeLessThan(gapsMs(full) * 0.6);
  });

  it('gives each kind its parameters and role', () => {
    for (const fault of plan(5, allKinds, 200).faults) {
      if (fault.kind === 'slow-link') expect(fault.rateKbit).toBeGreaterThan(0);
      if (fault.kind === 'lossy-link') expect(fault.lossPercent).toBeGreaterThan(0);
      if (fault.kind === 'clock-jump') expect(Math.abs(fault.clockJumpSeconds!)).toBeGreaterThanOrEqual(30);
      if (fault.kind === 'kill-leader' || fault.kind === 'isolate-leader') expect(fault.role).toBe('leader');
      if (fault.kind === 'kill-controller') expect(fault.role).toBe('controller');
      expect(fault.durationMs).toBeGreaterThan(0);
    }
  });

  it('parses families, kinds and weights, and refuses what it does not know', () => {
    expect([...parseFaultWeights('kill').keys()]).toEqual(['kill-leader', 'kill-controller', 'kill-random']);
    expect(parseFaultWeights('all,kill-leader:8').get('kill-leader')).toBe(8);
    expect(parseFaultWeights('all,kill-leader:8').get('bridge')).toBe(1);
    expect(() => parseFaultWeights('kill-everything')).toThrow(/unknown fault 'kill-everything'/);
    expect(() => parseFaultWeights('kill:-1')).toThrow(/weight/);
    expect(() => parseFaultWeights('kill:0')).toThrow(/no fault left/);
  });
});

describe('resolving a role to a node', () => {
  const view: ClusterView = {
    liveNodes: [1, 2, 3],
    controller: 2,
    leaders: new Map([
      [0, 1],
      [1, 3],
      [2, 1],
    ]),
  };

  it('takes the leader of a watched partition drawn by pick, the controller, a follower, any node', () => {
    expect(resolveTarget('leader', 0, view)).toBe(1);
    expect(resolveTarget('leader', 1, view)).toBe(3);
    expect(resolveTarget('controller', 9, view)).toBe(2);
    // Node 2 leads nothing but is the controller: with no plain follower, any non-controller.
    expect([1, 3]).toContain(resolveTarget('follower', 0, view));
    expect(resolveTarget('random', 4, view)).toBe(2);
    expect(ledBy(1, view)).toEqual([0, 2]);
  });

  it('says no one when the role is vacant', () => {
    expect(resolveTarget('controller', 0, { ...view, controller: undefined })).toBeUndefined();
    expect(resolveTarget('leader', 0, { ...view, leaders: new Map() })).toBeUndefined();
    expect(resolveTarget('leader', 0, { ...view, liveNodes: [2] })).toBeUndefined();
  });
});

describe('network cuts', () => {
  it('isolates a node from every other, both ways', () => {
    expect(planCut('isolate-leader', 2, 0, 3)).toEqual(cutBetween([2], [1, 3]));
    expect(cutBetween([2], [1, 3])).toEqual([
      [2, 1],
      [1, 2],
      [2, 3],
      [3, 2],
    ]);
  });

  it('splits five nodes into a minority of two with the target and a majority of three', () => {
    const cut = planCut('split-halves', 4, 1, 5);
    const cutFromTarget = new Set(cut.filter(([from]) => from === 4).map(([, to]) => to));
    expect(cutFromTarget.size).toBe(3);
    const partner = [1, 2, 3, 5].find((node) => !cutFromTarget.has(node))!;
    const majority = [...cutFromTarget];
    expect(new Set(cut.map(([from, to]) => [from, to].sort().join('-')))).toEqual(
      new Set([4, partner].flatMap((node) => majority.map((other) => [node, other].sort().join('-')))),
    );
    expect(cut).toHaveLength(12);
  });

  it('drops one direction only for one-way, and keeps the bridge reaching both halves', () => {
    expect(planCut('one-way', 1, 0, 3)).toEqual([[1, 2]]);
    const bridge = planCut('bridge', 3, 0, 5);
    expect(bridge.some(([from, to]) => from === 3 || to === 3)).toBe(false);
    expect(bridge.length).toBe(8);
  });
});
