// Where each metadata-quorum voter's CONTROLLER listener is (the gRPC target of Raft, the controller
// RPCs and replica fetching). From `controller.quorum.voters`, except that this node's own entry
// with port 0 is its bound port, and, with `gregor.controller.quorum.voters.file`, every address
// comes from that file: voters that bind port 0 get a new port on every start, so whoever launches
// them writes the file once the ports are known (from each node's `bound-ports`). At start-up the
// node waits for the file to name every voter with a port; afterwards it re-reads the file whenever
// it changes, so a peer that restarted on a new port is found.

import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import { grpcTarget, parseQuorumVoters, type QuorumVoter } from '@gregor/raft';
import type { Logger } from '../logging.js';

/** How long start-up waits for the voters file to name every voter. */
export const votersFileWaitMsMax = 120_000;
/** How often the voters file is looked at, while waiting and afterwards. */
export const votersFilePollMs = 25;

export interface VoterAddressesOptions {
  readonly nodeId: number;
  /** controller.quorum.voters. */
  readonly voters: readonly QuorumVoter[];
  /** The port this node's CONTROLLER listener bound (what its own entry's port 0 stands for). */
  readonly boundPort: number;
  /** gregor.controller.quorum.voters.file, or '' for none. */
  readonly file: string;
  readonly logger: Logger;
  readonly waitMsMax?: number;
}

interface Resolved {
  readonly voters: readonly QuorumVoter[];
  /** gRPC targets of the voters with a known port. */
  readonly targets: ReadonlyMap<number, string>;
}

export class VoterAddresses {
  private resolved: Resolved;

  private constructor(
    private readonly options: VoterAddressesOptions,
    voters: readonly QuorumVoter[],
  ) {
    this.resolved = this.resolve(voters);
  }

  /** Resolves every voter's address, waiting for the voters file if there is one. */
  static async open(options: VoterAddressesOptions): Promise<VoterAddresses> {
    const { file, nodeId } = options;
    if (file === '') return new VoterAddresses(options, options.voters);
    const deadline = Date.now() + (options.waitMsMax ?? votersFileWaitMsMax);
    for (;;) {
      const read = readVotersFile(file, options.voters);
      const missing =
        typeof read === 'string' ? read : read.find((voter) => voter.port === 0 && voter.id !== nodeId);
      if (missing === undefined && typeof read !== 'string') {
        const addresses = new VoterAddresses(options, read);
        options.logger.info({ file, voters: addresses.voters }, 'voter addresses read');
        watchFile(file, { interval: votersFilePollMs, persistent: false }, () => addresses.reload());
        return addresses;
      }
      if (Date.now() >= deadline) {
        const why = typeof missing === 'string' ? missing : `voter ${missing?.id} has no port yet`;
        throw new Error(`gregor.controller.quorum.voters.file ${file}: ${why}`);
      }
      await new Promise((resolve) => setTimeout(resolve, votersFilePollMs));
    }
  }

  /** A voter's gRPC target (`host:port`); undefined for an unknown voter or one without a port. */
  addressOf(voterId: number): string | undefined {
    return this.resolved.targets.get(voterId);
  }

  /** Every voter, with the address known now (port 0: none yet). */
  get voters(): readonly QuorumVoter[] {
    return this.resolved.voters;
  }

  close(): void {
    if (this.options.file !== '') unwatchFile(this.options.file);
  }

  private reload(): void {
    const read = readVotersFile(this.options.file, this.options.voters);
    if (typeof read === 'string') {
      this.options.logger.warn({ file: this.options.file, problem: read }, 'voters file ignored');
      return;
    }
    const previous = this.resolved.targets;
    this.resolved = this.resolve(read);
    const changed = [...this.resolved.targets].filter(([id, target]) => previous.get(id) !== target);
    if (changed.length > 0) {
      this.options.logger.info({ changed: Object.fromEntries(changed) }, 'voter addresses changed');
    }
  }

  /** The configured voters, in their order, with the addresses in `known`. */
  private resolve(known: readonly QuorumVoter[]): Resolved {
    const byId = new Map(known.map((voter) => [voter.id, voter]));
    const resolved = this.options.voters.map((configured) => {
      const voter = byId.get(configured.id) ?? configured;
      return voter.id === this.options.nodeId ? { ...voter, port: this.options.boundPort } : voter;
    });
    const targets = new Map<number, string>();
    for (const voter of resolved)
      if (voter.port !== 0) targets.set(voter.id, grpcTarget(voter.host, voter.port));
    return { voters: resolved, targets };
  }
}

/** The voters the file names, or why it cannot be used (yet). */
function readVotersFile(path: string, configured: readonly QuorumVoter[]): QuorumVoter[] | string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'the file does not exist' : String(error);
  }
  const parsed = parseQuorumVoters(text);
  if (!parsed.ok) return `not a controller.quorum.voters value: ${JSON.stringify(parsed.error)}`;
  const ids = (voters: readonly QuorumVoter[]) => voters.map((voter) => voter.id).sort((a, b) => a - b);
  if (ids(parsed.voters).join() !== ids(configured).join()) {
    return `names voters ${ids(parsed.voters)}, not controller.quorum.voters' ${ids(configured)}`;
  }
  return [...parsed.voters];
}
