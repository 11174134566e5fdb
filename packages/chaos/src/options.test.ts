import { describe, expect, it } from 'vitest';
import { parseOptions } from './options.js';

describe('chaos options', () => {
  it('defaults to a three-minute local campaign of every fault and workload', () => {
    const options = parseOptions(['--seed', '5']);
    expect(options).toMatchObject({
      target: 'local',
      durationMs: 180_000,
      seed: 5,
      nodes: 3,
      partitions: 6,
      rate: 500,
      security: 'plaintext',
    });
    expect(options.weights.size).toBe(16);
    expect([...options.workloads]).toEqual(['librdkafka', 'kafkajs', 'acks1', 'group', 'reader', 'txn']);
  });

  it('reads every option, in both --name value and --name=value forms', () => {
    const options = parseOptions([
      '--duration=30',
      '--nodes',
      '5',
      '--faults',
      'kill,partition:2',
      '--workload',
      'kafkajs,group',
      '--partitions',
      '12',
      '--pace',
      '0.5',
    ]);
    expect(options.durationMs).toBe(30_000);
    expect(options.nodes).toBe(5);
    expect(options.weights.get('bridge')).toBe(2);
    expect(options.weights.has('disk-full')).toBe(false);
    expect([...options.workloads]).toEqual(['kafkajs', 'group']);
    expect(options.partitions).toBe(12);
    expect(options.pace).toBe(0.5);
    expect(options.durationMaxMs).toBe(60_000);
  });

  it('takes how long faults may go on until every kind was injected, never below --duration', () => {
    expect(parseOptions(['--duration', '60', '--duration-max', '240']).durationMaxMs).toBe(240_000);
    expect(parseOptions(['--duration', '60', '--duration-max', '60']).durationMaxMs).toBe(60_000);
    expect(parseOptions([]).durationMaxMs).toBe(360_000);
    expect(() => parseOptions(['--duration', '60', '--duration-max', '59'])).toThrow(
      "--duration-max must be a number of seconds of at least --duration, not '59'",
    );
  });

  it('takes a report folder to check again, and keeps the arguments for it', () => {
    const options = parseOptions(['--recheck', 'chaos-results/x']);
    expect(options.recheckDir).toBe('chaos-results/x');
    expect(parseOptions(['--seed', '9', '--nodes', '5']).argv).toEqual(['--seed', '9', '--nodes', '5']);
  });

  it('runs with security on when asked, and keeps it in the arguments --recheck reads', () => {
    const options = parseOptions(['--security', 'sasl_ssl', '--seed', '7']);
    expect(options.security).toBe('sasl_ssl');
    expect(parseOptions(options.argv).security).toBe('sasl_ssl');
    expect(parseOptions(['--security=plaintext']).security).toBe('plaintext');
    expect(() => parseOptions(['--security', 'ssl'])).toThrow(
      /--security must be plaintext or sasl_ssl, not 'ssl'/,
    );
    expect(() => parseOptions(['--target', 'compose', '--security', 'sasl_ssl'])).toThrow(
      /--security sasl_ssl runs on --target local/,
    );
  });

  it('refuses what it cannot do, saying why', () => {
    expect(() => parseOptions(['--nodes', '4'])).toThrow(/--nodes must be 3 or 5/);
    expect(() => parseOptions(['--target', 'cloud'])).toThrow(/--target must be local or compose/);
    expect(() => parseOptions(['--target', 'compose', '--nodes', '5'])).toThrow(/three nodes/);
    expect(() => parseOptions(['--workload', 'group'])).toThrow(/at least one producer/);
    expect([...parseOptions(['--workload', 'txn,reader']).workloads]).toEqual(['txn', 'reader']);
    expect(() => parseOptions(['--workload', 'librdkafka,ctp'])).toThrow(/ctp transforms the txn/);
    expect(() => parseOptions(['--workload', 'kafkajs,spark'])).toThrow(/unknown workload 'spark'/);
    expect(() => parseOptions(['--frobnicate', '1'])).toThrow(/unknown option '--frobnicate'/);
    expect(() => parseOptions(['--duration'])).toThrow(/--duration needs a value/);
  });
});
