import type { RaftMessage } from '../core/messages.js';
import type { RaftInboundVerdict, RaftTransport } from './types.js';

export type RaftMessageReceiver = (message: RaftMessage) => RaftInboundVerdict | undefined;

/**
 * A network of in-process transports, for tests: delivery is asynchronous (setImmediate, as a socket
 * would be, so a send never re-enters the receiver's loop), and nodes can be cut off and healed.
 */
export class InMemoryRaftNetwork {
  private readonly receivers = new Map<number, RaftMessageReceiver>();
  private readonly isolated = new Set<number>();
  /** Counts of messages that could not be delivered (receiver absent or isolated), for assertions. */
  droppedMessages = 0;

  /** The transport node `nodeId` sends with. */
  transport(nodeId: number): RaftTransport {
    return {
      send: (message) => this.deliverLater(nodeId, message),
      close: async () => {},
    };
  }

  /** Where messages to nodeId go (replaces an earlier receiver: a restarted node). */
  attach(nodeId: number, receiver: RaftMessageReceiver): void {
    this.receivers.set(nodeId, receiver);
  }

  detach(nodeId: number): void {
    this.receivers.delete(nodeId);
  }

  /** Drops every message from and to nodeId until heal(). */
  isolate(nodeId: number): void {
    this.isolated.add(nodeId);
  }

  heal(): void {
    this.isolated.clear();
  }

  private deliverLater(from: number, message: RaftMessage): void {
    setImmediate(() => {
      const receiver = this.receivers.get(message.to);
      if (receiver === undefined || this.isolated.has(from) || this.isolated.has(message.to)) {
        this.droppedMessages++;
        return;
      }
      receiver(message);
    });
  }
}
