// Percentiles of what broker-loop-sampler.mjs wrote: over every broker's seconds (the first 5 s of
// each left out: start-up), the longest event-loop delay per second p50/p90/p99/max, the loop's
// utilization p50, CPU ms per second p50, the share of seconds sampled in each append mode and the
// p99 of those seconds' longest delay by mode (s16's attempt), and for s20's per-turn budget the
// appends written synchronously, those sent to the thread pool over budget, the turns that used
// their budget (summed over the brokers) and the seconds in which at least one did.
// Usage: node scripts/lib/broker-loop-summary.mjs [dir]   (default /tmp/broker-loop)

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '/tmp/broker-loop';
const startUpSecondsSkipped = 5;
const delays = [];
const utilizations = [];
const cpus = [];
const modes = new Map();
/** The longest delay of each second, by the append mode sampled at its end. */
const delaysByMode = new Map();
/** s20's per-turn budget: the counts at each broker's last sample, summed. */
const budget = { synchronous: 0, overBudget: 0, turnsExhausted: 0, seconds: 0, secondsExhausted: 0 };
let toThreadPool = 0;
let toSynchronous = 0;
for (const name of readdirSync(dir).filter((n) => n.endsWith('.jsonl'))) {
  const lines = readFileSync(join(dir, name), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  const samples = lines.filter((l) => l.t !== undefined).slice(startUpSecondsSkipped);
  for (const s of samples) {
    delays.push(s.loopDelayMaxMs);
    utilizations.push(s.elu);
    cpus.push(s.cpuMs);
    const mode = s.mode ?? 'off';
    modes.set(mode, (modes.get(mode) ?? 0) + 1);
    if (!delaysByMode.has(mode)) delaysByMode.set(mode, []);
    delaysByMode.get(mode).push(s.loopDelayMaxMs);
  }
  // The counts since the policy started (they are gone from the samples after the broker stops it).
  const counted = samples.filter((s) => s.appends !== undefined);
  if (counted.length > 0) {
    const last = counted[counted.length - 1].appends;
    budget.synchronous += last.synchronous;
    budget.overBudget += last.overBudget;
    budget.turnsExhausted += last.turnsExhausted;
    budget.seconds += counted.length;
    for (let i = 1; i < counted.length; i++) {
      if (counted[i].appends.turnsExhausted > counted[i - 1].appends.turnsExhausted)
        budget.secondsExhausted++;
    }
  }
  toThreadPool += Math.max(0, ...samples.map((s) => s.switches?.toThreadPool ?? 0));
  toSynchronous += Math.max(0, ...samples.map((s) => s.switches?.toSynchronous ?? 0));
}
const pct = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const modeShares = [...modes]
  .map(([mode, n]) => `${mode} ${((100 * n) / delays.length).toFixed(0)}%`)
  .join(', ');
console.log(
  JSON.stringify({
    seconds: delays.length,
    loopDelayMaxPerSecondMs: {
      p50: pct(delays, 50),
      p90: pct(delays, 90),
      p99: pct(delays, 99),
      max: pct(delays, 100),
    },
    eluP50: pct(utilizations, 50),
    cpuMsPerSecondP50: pct(cpus, 50),
    modes: modeShares,
    loopDelayMaxPerSecondP99ByModeMs: Object.fromEntries(
      [...delaysByMode].map(([mode, d]) => [mode, pct(d, 99)]),
    ),
    switches: { toThreadPool, toSynchronous },
    ...(budget.seconds > 0 ? { perTurnBudget: budget } : {}),
  }),
);
