// Network faults between the nodes of a local campaign, with iptables and tc, inside the network
// namespace the campaign made for itself (see namespace.ts): nothing here can reach the machine's
// own network settings, and everything goes away with the namespace however the campaign ends.
//
// Addressing: node N listens on 127.0.1.N and runs as its own uid (nodeUid(N)). Its outgoing
// connections are given 127.0.1.N as their source (SNAT by owner), so every packet between two
// nodes carries both nodes' addresses, while clients connect from 127.0.0.1 and are never cut by a
// rule between nodes. A drop "from A to B" is an OUTPUT rule on packets A's process sends to B's
// address: it stops what A sends on connections A opened to B (A's requests, and Raft messages,
// which each node sends on its own connections). A's answers on connections B opened still arrive
// (apparently because the nat table maps a reply's destination back to B's address before SNAT,
// 127.0.0.1, before the filter sees it). So under a drop A->B, B's requests to A are answered (B's
// heartbeats to a controller A renew B's leader lease) while A's Raft messages to B are lost (seen
// in the campaign of seed 20261205; it-test deposed-coordinator.integration.test.ts relies on it).
//
// Every rule lives in chains this module creates (GREGOR_CHAOS in filter, GREGOR_CHAOS_SNAT in nat)
// and names only 127.0.1.N addresses; `teardown` deletes them.

import type { Cut } from '../scheduler.js';
import { run } from './exec.js';

export const filterChain = 'GREGOR_CHAOS';
export const natChain = 'GREGOR_CHAOS_SNAT';
const device = 'lo';

export function nodeAddress(node: number): string {
  return `127.0.1.${node}`;
}

export function nodeUid(node: number): number {
  return 47_000 + node;
}

export class NodeNetwork {
  private shaped = false;

  constructor(private readonly nodeCount: number) {}

  private get nodes(): number[] {
    return Array.from({ length: this.nodeCount }, (_, index) => index + 1);
  }

  async setup(): Promise<void> {
    await run('ip', ['link', 'set', device, 'up']);
    await run('iptables', ['-N', filterChain]);
    await run('iptables', ['-I', 'OUTPUT', '-j', filterChain]);
    await run('iptables', ['-t', 'nat', '-N', natChain]);
    await run('iptables', ['-t', 'nat', '-I', 'POSTROUTING', '-j', natChain]);
    for (const node of this.nodes) {
      await run('iptables', [
        '-t',
        'nat',
        '-A',
        natChain,
        '-m',
        'owner',
        '--uid-owner',
        String(nodeUid(node)),
        '-d',
        '127.0.1.0/24',
        '-j',
        'SNAT',
        '--to-source',
        nodeAddress(node),
      ]);
    }
  }

  /** Drops every packet of each pair's `from` node to its `to` node. */
  async cut(cut: Cut): Promise<void> {
    for (const [from, to] of cut)
      await run('iptables', [
        '-A',
        filterChain,
        '-m',
        'owner',
        '--uid-owner',
        String(nodeUid(from)),
        '-d',
        nodeAddress(to),
        '-j',
        'DROP',
      ]);
  }

  /** Drops `percent` of the packets between `node` and every other node, both ways. */
  async lossy(node: number, percent: number): Promise<void> {
    const probability = String(percent / 100);
    for (const other of this.nodes.filter((candidate) => candidate !== node))
      for (const [from, to] of [
        [node, other],
        [other, node],
      ] as const)
        await run('iptables', [
          '-A',
          filterChain,
          '-m',
          'owner',
          '--uid-owner',
          String(nodeUid(from)),
          '-d',
          nodeAddress(to),
          '-m',
          'statistic',
          '--mode',
          'random',
          '--probability',
          probability,
          '-j',
          'DROP',
        ]);
  }

  /**
   * Limits the links between `node` and the other nodes to `rateKbit` (both ways; clients are not
   * slowed). An HTB class, since this kernel has no netem: the link is narrow, so delay comes from
   * the queue when traffic exceeds it, not from a fixed latency.
   */
  async slow(node: number, rateKbit: number): Promise<void> {
    await run('tc', ['qdisc', 'add', 'dev', device, 'root', 'handle', '1:', 'htb', 'default', '1']);
    this.shaped = true;
    await run('tc', [
      'class',
      'add',
      'dev',
      device,
      'parent',
      '1:',
      'classid',
      '1:1',
      'htb',
      'rate',
      '10gbit',
      'quantum',
      '200000',
    ]);
    await run('tc', [
      'class',
      'add',
      'dev',
      device,
      'parent',
      '1:',
      'classid',
      '1:2',
      'htb',
      'rate',
      `${rateKbit}kbit`,
      'quantum',
      '1514',
    ]);
    const address = `${nodeAddress(node)}/32`;
    for (const [src, dst] of [
      [address, '127.0.1.0/24'],
      ['127.0.1.0/24', address],
    ] as const)
      await run('tc', [
        'filter',
        'add',
        'dev',
        device,
        'parent',
        '1:',
        'protocol',
        'ip',
        'prio',
        '1',
        'u32',
        'match',
        'ip',
        'src',
        src,
        'match',
        'ip',
        'dst',
        dst,
        'flowid',
        '1:2',
      ]);
  }

  /** Removes every cut, loss and shaping. */
  async heal(): Promise<void> {
    await run('iptables', ['-F', filterChain]);
    if (this.shaped) {
      await run('tc', ['qdisc', 'del', 'dev', device, 'root'], { allowFailure: true });
      this.shaped = false;
    }
  }

  async teardown(): Promise<void> {
    await run('iptables', ['-F', filterChain], { allowFailure: true });
    await run('iptables', ['-D', 'OUTPUT', '-j', filterChain], { allowFailure: true });
    await run('iptables', ['-X', filterChain], { allowFailure: true });
    await run('iptables', ['-t', 'nat', '-F', natChain], { allowFailure: true });
    await run('iptables', ['-t', 'nat', '-D', 'POSTROUTING', '-j', natChain], { allowFailure: true });
    await run('iptables', ['-t', 'nat', '-X', natChain], { allowFailure: true });
    await run('tc', ['qdisc', 'del', 'dev', device, 'root'], { allowFailure: true });
  }
}
