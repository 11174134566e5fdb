/**
 * Why a proposal did not commit. Each is an expected outcome a caller handles (redirect, retry, back
 * off), so each is its own class with the fields needed to act on it.
 */

/** This node is not the leader; leaderId is the leader it knows of, if any (send the request there). */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
  constructor(readonly leaderId: number | undefined) {
    super(
      leaderId === undefined ? 'not the leader; no leader known' : `not the leader; leader is ${leaderId}`,
    );
  }
}

/**
 * The proposal was appended but not committed within its timeout. Its outcome is unknown: it may still
 * commit later (for example once a partition heals), so a retry must be idempotent.
 */
export class ProposalTimeoutError extends Error {
  override readonly name = 'ProposalTimeoutError';
  constructor(
    readonly offset: number,
    readonly epoch: number,
    readonly timeoutMs: number,
  ) {
    super(`proposal at offset ${offset} (epoch ${epoch}) not committed within ${timeoutMs} ms`);
  }
}

/** Another entry committed at the proposal's offset (a leader change truncated it): it never applies. */
export class ProposalLostError extends Error {
  override readonly name = 'ProposalLostError';
  constructor(
    readonly offset: number,
    readonly epoch: number,
    readonly committedEpoch: number,
  ) {
    super(`proposal at offset ${offset} (epoch ${epoch}) lost: offset committed in epoch ${committedEpoch}`);
  }
}

/**
 * A snapshot from the leader replaced this node's log past the proposal's offset, so this node cannot
 * tell whether the proposal was in it. Read the state machine to find out.
 */
export class ProposalOutcomeUnknownError extends Error {
  override readonly name = 'ProposalOutcomeUnknownError';
  constructor(
    readonly offset: number,
    readonly epoch: number,
  ) {
    super(`proposal at offset ${offset} (epoch ${epoch}): covered by a snapshot from the leader`);
  }
}

export class ProposalTooLargeError extends Error {
  override readonly name = 'ProposalTooLargeError';
  constructor(
    readonly payloadBytes: number,
    readonly bytesMax: number,
  ) {
    super(`proposal of ${payloadBytes} bytes exceeds ${bytesMax} bytes`);
  }
}

/** The leader already holds uncommittedEntriesMax entries above the high watermark: back off. */
export class RaftOverloadedError extends Error {
  override readonly name = 'RaftOverloadedError';
  constructor(readonly uncommittedEntriesMax: number) {
    super(`leader holds ${uncommittedEntriesMax} uncommitted entries; retry later`);
  }
}

/** The driver was closed (or failed) before the proposal resolved. */
export class RaftDriverClosedError extends Error {
  override readonly name = 'RaftDriverClosedError';
  constructor(readonly reason: 'closed' | 'failed') {
    super(reason === 'closed' ? 'raft driver closed' : 'raft driver failed');
  }
}

export type ProposalError =
  | NotLeaderError
  | ProposalTimeoutError
  | ProposalLostError
  | ProposalOutcomeUnknownError
  | ProposalTooLargeError
  | RaftOverloadedError
  | RaftDriverClosedError;
