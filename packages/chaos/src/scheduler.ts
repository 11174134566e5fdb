// The fault scheduler: from a seed, the sequence of faults a campaign injects, and the churn of
// consumer-group members. Pure: no clock, no I/O; the same seed and options give the same plan.
//
// The plan fixes which fault comes next, which role it hits (the leader of a watched partition, the
// active controller, a follower, a random node), how long it lasts and its parameters. Which node
// holds a role is only known when the fault starts, so each fault carries a `pick` that
// `resolveTarget` turns into a node from the live view, deterministically.

import { SeededRandom } from '@gregor/ground';

export const faultKinds = [
  'kill-leader',
  'kill-controller',
  'kill-random',
  'pause-leader',
  'pause-controller',
  'pause-follower',
  'isolate-node',
  'isolate-leader',
  'split-halves',
  'isolate-controller',
  'one-way',
  'bridge',
  'slow-link',
  'lossy-link',
  'disk-full',
  'clock-jump',
] as const;
export type FaultKind = (typeof faultKinds)[number];

/** Names that stand for several kinds on the command line (`--faults kill,partition`). */
export const faultFamilies: Readonly<Record<string, readonly FaultKind[]>> = {
  all: faultKinds,
  kill: ['kill-leader', 'kill-controller', 'kill-random'],
  pause: ['pause-leader', 'pause-controller', 'pause-follower'],
  partition: ['isolate-node', 'isolate-leader', 'split-halves', 'isolate-controller', 'one-way', 'bridge'],
  netem: ['slow-link', 'lossy-link'],
  disk: ['disk-full'],
  clock: ['clock-jump'],
};

/** Which node a fault hits, resolved when it starts. */
export type TargetRole = 'leader' | 'controller' | 'follower' | 'random';

export interface PlannedFault {
  readonly id: number;
  readonly kind: FaultKind;
  readonly role: TargetRole;
  /** How long the fault lasts before it is healed (for a kill: how long the node stays dead). */
  readonly durationMs: number;
  /** The quiet time after it is healed (and the cluster is whole again) before the next fault. */
  readonly gapMs: number;
  /** A draw that picks the node (and the second node, or the halves) among the live candidates. */
  readonly pick: number;
  /** slow-link: the link's rate. */
  readonly rateKbit?: number;
  /** lossy-link: the share of packets dropped, in percent. */
  readonly lossPercent?: number;
  /** clock-jump: how far the node's wall clock jumps (negative: backwards). */
  readonly clockJumpSeconds?: number;
}

export type ChurnAction = 'crash' | 'leave' | 'join';

export interface PlannedChurn {
  /** After the previous churn action (or the campaign start). */
  readonly afterMs: number;
  readonly action: ChurnAction;
  readonly pick: number;
}

export interface ScheduleOptions {
  readonly seed: number;
  /** Kinds with their weights; every kind with a weight above 0 comes once before any repeats. */
  readonly weights: ReadonlyMap<FaultKind, number>;
  /** The most faults planned (the campaign stops drawing when its time is up). */
  readonly faultCountMax: number;
  readonly churnCountMax: number;
  /** Pauses shorter and longer than this are both drawn (broker.session.timeout.ms). */
  readonly sessionTimeoutMs: number;
  /** Scales every duration and gap: 1 for the defaults. */
  readonly pace?: number;
}

export interface Schedule {
  readonly faults: readonly PlannedFault[];
  readonly churn: readonly PlannedChurn[];
}

const roleOfKind: Readonly<Record<FaultKind, TargetRole>> = {
  'kill-leader': 'leader',
  'kill-controller': 'controller',
  'kill-random': 'random',
  'pause-leader': 'leader',
  'pause-controller': 'controller',
  'pause-follower': 'follower',
  'isolate-node': 'random',
  'isolate-leader': 'leader',
  'split-halves': 'random',
  'isolate-controller': 'controller',
  'one-way': 'random',
  bridge: 'random',
  'slow-link': 'random',
  'lossy-link': 'random',
  'disk-full': 'random',
  'clock-jump': 'random',
};

/** Parses `--faults`: kinds or families, each optionally `name:weight` (`all,kill-leader:8`). */
export function parseFaultWeights(spec: string): Map<FaultKind, number> {
  const weights = new Map<FaultKind, number>();
  for (const part of spec.split(',')) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const [name, weightText] = trimmed.split(':') as [string, string | undefined];
    const weight = weightText === undefined ? 1 : Number(weightText);
    if (!Number.isFinite(weight) || weight < 0)
      throw new Error(`--faults: weight of '${name}' must be a number of at least 0, not '${weightText}'`);
    const kinds = faultFamilies[name] ?? (faultKinds.includes(name as FaultKind) ? [name as FaultKind] : []);
    if (kinds.length === 0)
      throw new Error(
        `--faults: unknown fault '${name}'; kinds: ${faultKinds.join(', ')}; families: ${Object.keys(faultFamilies).join(', ')}`,
      );
    for (const kind of kinds) weights.set(kind, weight);
  }
  if ([...weights.values()].every((weight) => weight === 0))
    throw new Error('--faults: no fault left to inject');
  return weights;
}

export function planSchedule(options: ScheduleOptions): Schedule {
  const random = new SeededRandom(options.seed);
  const faultRandom = random.fork();
  const churnRandom = random.fork();
  const pace = options.pace ?? 1;
  const enabled = faultKinds.filter((kind) => (options.weights.get(kind) ?? 0) > 0);
  const totalWeight = enabled.reduce((sum, kind) => sum + options.weights.get(kind)!, 0);

  // Every enabled kind once, in a seeded order, so a short campaign still covers them all; then
  // weighted draws.
  const firstRound = [...enabled];
  for (let index = firstRound.length - 1; index > 0; index--) {
    const other = faultRandom.nextInt(index + 1);
    [firstRound[index], firstRound[other]] = [firstRound[other]!, firstRound[index]!];
  }
  const drawKind = (): FaultKind => {
    let ticket = faultRandom.nextFloat() * totalWeight;
    for (const kind of enabled) {
      ticket -= options.weights.get(kind)!;
      if (ticket < 0) return kind;
    }
    return enabled[enabled.length - 1]!;
  };

  const faults: PlannedFault[] = [];
  for (let id = 1; id <= options.faultCountMax; id++) {
    const kind = id <= firstRound.length ? firstRound[id - 1]! : drawKind();
    faults.push(planFault(id, kind, faultRandom, options.sessionTimeoutMs, pace));
  }

  const churn: PlannedChurn[] = [];
  for (let index = 0; index < options.churnCountMax; index++) {
    const ticket = churnRandom.nextFloat();
    churn.push({
      afterMs: Math.round(churnRandom.between(6_000, 16_000) * pace),
      action: ticket < 0.4 ? 'crash' : ticket < 0.75 ? 'leave' : 'join',
      pick: churnRandom.nextUint32(),
    });
  }
  return { faults, churn };
}

/** How much longer than the session timeout a network cut lasts at least, at any pace. */
export const networkFaultOverSessionMs = 500;

function planFault(
  id: number,
  kind: FaultKind,
  random: SeededRandom,
  sessionTimeoutMs: number,
  pace: number,
): PlannedFault {
  const scaled = (min: number, max: number) => Math.round(random.between(min, max) * pace);
  const base = { id, kind, role: roleOfKind[kind], pick: random.nextUint32(), gapMs: scaled(1_000, 3_000) };
  switch (kind) {
    case 'kill-leader':
    case 'kill-controller':
    case 'kill-random':
      return { ...base, durationMs: scaled(500, 5_000) };
    case 'pause-leader':
    case 'pause-controller':
    case 'pause-follower':
      // Half shorter than the session timeout (the node should not be fenced), half longer.
      return random.chance(0.5)
        ? { ...base, durationMs: Math.round(random.between(200, Math.max(300, sessionTimeoutMs * 0.8))) }
        : { ...base, durationMs: Math.round(random.between(sessionTimeoutMs * 1.5, sessionTimeoutMs * 5)) };
    case 'slow-link':
      return { ...base, durationMs: scaled(3_000, 8_000), rateKbit: random.pick([100, 300, 1_000]) };
    case 'lossy-link':
      return { ...base, durationMs: scaled(3_000, 8_000), lossPercent: random.pick([5, 15, 30]) };
    case 'clock-jump': {
      const seconds = random.pick([30, 120, 600, 3_600]);
      return {
        ...base,
        durationMs: scaled(3_000, 8_000),
        clockJumpSeconds: random.chance(0.5) ? seconds : -seconds,
      };
    }
    default:
      // Network cuts (and a full disk) outlast the session timeout by half a second whatever the
      // pace: an isolated leader's lease lapses and leadership moves, as at pace 1, whose shortest
      // draw (2 s) is above this floor. Without it, --pace 0.5 drew isolations of 1.3-1.4 s that no
      // leader noticed.
      return {
        ...base,
        durationMs: Math.max(scaled(2_000, 8_000), sessionTimeoutMs + networkFaultOverSessionMs),
      };
  }
}

/** What the nemesis knows of the cluster when a fault starts. */
export interface ClusterView {
  /** Nodes running (not killed) and reachable. */
  readonly liveNodes: readonly number[];
  readonly controller: number | undefined;
  /** The leader of each watched partition (by partition number). */
  readonly leaders: ReadonlyMap<number, number>;
}

/**
 * The node a fault hits: the leader of one watched partition (drawn with `pick`), the controller,
 * a node that leads none of the partitions if there is one (a follower), or any live node.
 * Undefined when the role is vacant (no known controller, no leader).
 */
export function resolveTarget(role: TargetRole, pick: number, view: ClusterView): number | undefined {
  const live = [...view.liveNodes].sort((a, b) => a - b);
  if (live.length === 0) return undefined;
  switch (role) {
    case 'controller':
      return view.controller !== undefined && live.includes(view.controller) ? view.controller : undefined;
    case 'leader': {
      const partitions = [...view.leaders.keys()]
        .sort((a, b) => a - b)
        .filter((p) => live.includes(view.leaders.get(p)!));
      if (partitions.length === 0) return undefined;
      return view.leaders.get(partitions[pick % partitions.length]!);
    }
    case 'follower': {
      const leading = new Set(view.leaders.values());
      const followers = live.filter((node) => !leading.has(node) && node !== view.controller);
      const pool = followers.length > 0 ? followers : live.filter((node) => node !== view.controller);
      return pool.length > 0 ? pool[pick % pool.length] : live[pick % live.length];
    }
    case 'random':
      return live[pick % live.length];
  }
}

/** The partitions `node` led in the view (what a kill or isolation of it takes away). */
export function ledBy(node: number, view: ClusterView): number[] {
  return [...view.leaders.entries()]
    .filter(([, leader]) => leader === node)
    .map(([partition]) => partition)
    .sort((a, b) => a - b);
}

/** A network cut as pairs of nodes whose packets are dropped, `from` -> `to`. */
export type Cut = ReadonlyArray<readonly [from: number, to: number]>;

/** Both directions between every node of `a` and every node of `b`. */
export function cutBetween(a: readonly number[], b: readonly number[]): Cut {
  const pairs: Array<readonly [number, number]> = [];
  for (const x of a) for (const y of b) if (x !== y) pairs.push([x, y], [y, x]);
  return pairs;
}

/**
 * The cut a partition fault makes, from its target and `pick`, over all nodes `1..nodeCount`:
 * - isolate-node / isolate-leader / isolate-controller: the target from every other node (clients
 *   still reach it: they connect from another address);
 * - split-halves: a minority (with the target) from the majority;
 * - one-way: packets from the target to one other node are dropped, the other way they pass;
 * - bridge: two halves that cannot reach each other, and the target that reaches both.
 */
export function planCut(kind: FaultKind, target: number, pick: number, nodeCount: number): Cut {
  const all = Array.from({ length: nodeCount }, (_, index) => index + 1);
  const others = all.filter((node) => node !== target);
  const rotated = others.map((_, index) => others[(index + pick) % others.length]!);
  switch (kind) {
    case 'isolate-node':
    case 'isolate-leader':
    case 'isolate-controller':
      return cutBetween([target], others);
    case 'split-halves': {
      const minoritySize = Math.floor((nodeCount - 1) / 2);
      const minority = [target, ...rotated.slice(0, minoritySize - 1)];
      return cutBetween(
        minority,
        all.filter((node) => !minority.includes(node)),
      );
    }
    case 'one-way':
      return [[target, rotated[0]!]];
    case 'bridge': {
      const half = Math.ceil(rotated.length / 2);
      return cutBetween(rotated.slice(0, half), rotated.slice(half));
    }
    default:
      throw new Error(`${kind} is not a network partition`);
  }
}

export function isPartitionKind(kind: FaultKind): boolean {
  return faultFamilies.partition!.includes(kind);
}
