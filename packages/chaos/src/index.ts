export {
  type AnomalyKind,
  anomalyKinds,
  type CheckResult,
  checkHistory,
  HistoryChecker,
  quantile,
} from './checker.js';
export { runChaosCommand, type TextOutput } from './command.js';
export { type HistoryEvent, parseHistory } from './history.js';
export { type CampaignOptions, parseOptions } from './options.js';
export { type FaultKind, faultKinds, planSchedule } from './scheduler.js';
