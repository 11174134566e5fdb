// Whether the node should receive client traffic (`/readyz`): registered with the controller,
// unfenced, its heartbeats still answered, and its Kafka listeners serving. Pure: the node passes
// what it knows.

/** The broker lifecycle's states (node/broker-lifecycle.ts). */
export type LifecycleState = 'starting' | 'fenced' | 'running' | 'shutting-down' | 'stopped';

export interface ReadinessInputs {
  readonly lifecycleState: LifecycleState;
  /** This broker in the metadata it applied: fenced, unfenced, or not registered there yet. */
  readonly imageSays: 'fenced' | 'unfenced' | 'unregistered';
  /** Milliseconds since a heartbeat was last answered; undefined before the first answer. */
  readonly heartbeatAnsweredAgoMs: number | undefined;
  /** broker.session.timeout.ms: past it without an answer, the controller fences this broker. */
  readonly sessionTimeoutMs: number;
  /** The Kafka listeners answer requests (the broker opened them and is not stopping). */
  readonly listenersServing: boolean;
}

export interface Readiness {
  readonly ready: boolean;
  /** Why not, one line each; empty when ready. */
  readonly reasons: readonly string[];
}

export function readiness(inputs: ReadinessInputs): Readiness {
  const reasons: string[] = [];
  switch (inputs.lifecycleState) {
    case 'starting':
      reasons.push('not registered with the controller');
      break;
    case 'fenced':
      reasons.push('fenced by the controller');
      break;
    case 'shutting-down':
    case 'stopped':
      reasons.push('shutting down');
      break;
    case 'running':
      break;
  }
  if (inputs.lifecycleState === 'running' && inputs.imageSays !== 'unfenced') {
    reasons.push(
      inputs.imageSays === 'fenced'
        ? 'fenced in the metadata this broker applied'
        : 'not registered in the metadata this broker applied',
    );
  }
  const ago = inputs.heartbeatAnsweredAgoMs;
  if (inputs.lifecycleState !== 'starting' && ago !== undefined && ago > inputs.sessionTimeoutMs) {
    reasons.push(
      `no heartbeat answered for ${Math.round(ago)} ms (broker.session.timeout.ms=${inputs.sessionTimeoutMs})`,
    );
  }
  if (!inputs.listenersServing) reasons.push('Kafka listeners not serving');
  return { ready: reasons.length === 0, reasons };
}
