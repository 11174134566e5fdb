// The features of KIP-584 that this software knows, and the levels of each whose semantics it has.
// One table: the controller checks UpdateFeatures against it, every broker advertises it in
// ApiVersions (v3+ SupportedFeatures), and `gregor features describe` prints it.
//
// A level is listed only when Gregor does what that level means in Kafka; everything else stays at
// level 0 (the feature's behaviour before it existed). To add a level, raise its `maxLevel` and say
// why in `semantics`.
//
// Kafka advertises only features whose maximum is above 0 (BrokerFeatures.defaultSupportedFeatures
// skips the rest), so a feature at 0-0 is known here, refused above 0, and not advertised.

export interface SupportedFeature {
  readonly name: string;
  readonly minLevel: number;
  readonly maxLevel: number;
  /** What the levels mean in Kafka and which of them Gregor has, for the README and describe. */
  readonly semantics: string;
}

export const supportedFeatures: readonly SupportedFeature[] = Object.freeze([
  {
    name: 'metadata.version',
    minLevel: 0,
    maxLevel: 0,
    semantics:
      "Kafka's levels name the record versions of Kafka's metadata log and inter-broker protocol; " +
      "Gregor's metadata log has its own records and its brokers talk gRPC, so no level applies.",
  },
  {
    name: 'kraft.version',
    minLevel: 0,
    maxLevel: 0,
    semantics:
      'Level 0 is a static voter set, which Gregor has; level 1 (dynamic quorums, KIP-853) it has not.',
  },
  {
    name: 'transaction.version',
    minLevel: 0,
    maxLevel: 2,
    semantics:
      "Level 0 is the classic transaction protocol; level 1 is Kafka's flexible __transaction_state " +
      'records (Gregor writes its v1 records at every level); level 2 is KIP-890 transactions v2 ' +
      '(Produce v12 and TxnOffsetCommit v5 add their partitions, EndTxn v5 bumps the epoch), which ' +
      'clients use only when it is finalized. Gregor serves each request by its version, as Kafka ' +
      'does, so classic clients work at every level. A new cluster starts at 2, as Kafka 4 does.',
  },
  {
    name: 'group.version',
    minLevel: 0,
    maxLevel: 1,
    semantics:
      'Level 0 is classic consumer groups only; level 1 turns on the KIP-848 consumer group protocol ' +
      '(ConsumerGroupHeartbeat, ConsumerGroupDescribe), which Gregor serves. A new cluster starts at 1, ' +
      'as a Kafka 4 cluster does; at 0 those APIs are not advertised and answer UNSUPPORTED_VERSION.',
  },
  {
    name: 'eligible.leader.replicas.version',
    minLevel: 0,
    maxLevel: 0,
    semantics: 'Level 1 turns on eligible leader replicas (KIP-966), which Gregor does not keep.',
  },
  {
    name: 'share.version',
    minLevel: 0,
    maxLevel: 0,
    semantics: 'Level 1 turns on share groups (KIP-932), which Gregor does not serve.',
  },
  {
    name: 'streams.version',
    minLevel: 0,
    maxLevel: 0,
    semantics: 'Level 1 turns on streams groups (KIP-1071), which Gregor does not serve.',
  },
]);

/**
 * The levels a new cluster's first active controller finalizes, as Kafka 4's bootstrap metadata
 * does for a new cluster (its other features start at 0 here too). A cluster whose log already
 * has an active controller keeps what it has: raising a level is the operator's UpdateFeatures.
 */
export const bootstrapFeatureLevels: ReadonlyMap<string, number> = new Map([
  ['group.version', 1],
  // Kafka 4.0's storage tool finalizes TV_2 for a new cluster (its bootstrap metadata version 4.0-IV2).
  ['transaction.version', 2],
]);

/** The supported range of a feature; an unknown feature is 0-0 (Kafka's QuorumFeatures.DISABLED). */
export function supportedFeatureRange(
  features: readonly SupportedFeature[],
  name: string,
): { readonly minLevel: number; readonly maxLevel: number } {
  return features.find((feature) => feature.name === name) ?? { minLevel: 0, maxLevel: 0 };
}

/** The features a node advertises in ApiVersions: those with a level above 0, as Kafka does. */
export function advertisedFeatures(features: readonly SupportedFeature[]): readonly SupportedFeature[] {
  return features.filter((feature) => feature.maxLevel > 0);
}
