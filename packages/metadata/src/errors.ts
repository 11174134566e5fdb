// Expected controller failures are values, never exceptions (STYLE.md rule 4).

import { ErrorCode } from '@gregor/protocol';

/**
 * Kafka error codes the controller needs that @gregor/protocol's table lacks (Kafka's Errors.java).
 * Kept here until the shared table has them.
 */
export const controllerOnlyErrorCode = {
  /** AlterPartition with a stale partition epoch (Kafka's answer to a lost ISR-change race). */
  INVALID_UPDATE_VERSION: 95,
  /** AlterPartition adding a fenced or shutting-down broker to the ISR. */
  INELIGIBLE_REPLICA: 107,
} as const;

export const ControllerErrorCode = { ...ErrorCode, ...controllerOnlyErrorCode } as const;

export interface ControllerError {
  readonly errorCode: number;
  readonly errorMessage: string;
}

export function controllerError(errorCode: number, errorMessage: string): ControllerError {
  return { errorCode, errorMessage };
}
