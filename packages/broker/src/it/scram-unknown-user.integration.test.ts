// Whether a SCRAM user exists must not show, not even to a client that asks every node, again and
// again, across restarts. Three broker processes with a SASL_PLAINTEXT listener offering
// SCRAM-SHA-256 and SCRAM-SHA-512: the server-first message (salt, iterations) for a user that does
// not exist is the same from every node and after a node restarts, as a real user's is; a wrong
// password for a real user and any proof for an unknown one get the same error code and message.
// The secret behind the made-up salts shows as `<redacted>` in `gregor metadata-shell --data-dir`
// of the stopped node, and not at all over the controller listener (DescribeMetadata).

import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { KafkaConnection } from '@gregor/client';
import { ApiKey, ErrorCode } from '@gregor/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, ProcessCluster } from '../testing/process-cluster.js';

const clientTimeoutMs = 60_000;
const mechanisms = ['SCRAM-SHA-256', 'SCRAM-SHA-512'] as const;

let cluster: ProcessCluster;

beforeAll(async () => {
  cluster = await ProcessCluster.start({
    nodeCount: 3,
    properties: {
      listeners: 'PLAINTEXT://127.0.0.1:0,SASL_PLAINTEXT://127.0.0.1:0,CONTROLLER://127.0.0.1:0',
      'listener.security.protocol.map':
        'PLAINTEXT:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,CONTROLLER:PLAINTEXT',
      'listener.name.sasl_plaintext.sasl.enabled.mechanisms': 'SCRAM-SHA-256,SCRAM-SHA-512',
    },
  });
  const output = execFileSync(
    process.execPath,
    [
      cliPath,
      'users',
      '--bootstrap-server',
      `127.0.0.1:${cluster.node(1).listenerPorts.PLAINTEXT}`,
      '--alter',
      '--entity-type',
      'users',
      '--entity-name',
      'alice',
      '--add-config',
      'SCRAM-SHA-256=[password=alice-secret],SCRAM-SHA-512=[password=alice-secret]',
    ],
    { encoding: 'utf8', timeout: clientTimeoutMs },
  );
  expect(output).toBe('Completed updating config for user alice.\n');
}, 120_000);

function metadataShell(...args: string[]) {
  const run = spawnSync(process.execPath, [cliPath, 'metadata-shell', '--timeout-ms', '5000', ...args], {
    encoding: 'utf8',
    timeout: clientTimeoutMs,
  });
  expect(run.status, run.stderr).toBe(0);
  return run;
}

afterAll(async () => {
  await cluster?.close();
});

interface ServerFirst {
  readonly salt: string;
  readonly iterations: number;
}

/** SaslHandshake, then a client-first message; the node's server-first message, parsed. */
async function serverFirst(nodeId: number, mechanism: string, user: string): Promise<ServerFirst> {
  const connection = await KafkaConnection.open({
    host: '127.0.0.1',
    port: cluster.node(nodeId).listenerPorts.SASL_PLAINTEXT!,
  });
  try {
    const handshake = await connection.call(ApiKey.SaslHandshake, 1, { mechanism });
    expect(handshake.errorCode).toBe(ErrorCode.NONE);
    const nonce = randomBytes(24).toString('base64url');
    const first = await connection.call(ApiKey.SaslAuthenticate, 2, {
      authBytes: Buffer.from(`n,,n=${user},r=${nonce}`),
    });
    expect(first.errorCode).toBe(ErrorCode.NONE);
    const fields = new Map(
      first.authBytes
        .toString('utf8')
        .split(',')
        .map((field) => [field.slice(0, 1), field.slice(2)] as const),
    );
    expect(fields.get('r')!.startsWith(nonce)).toBe(true);
    return { salt: fields.get('s')!, iterations: Number(fields.get('i')) };
  } finally {
    connection.close();
  }
}

/** A whole exchange with a proof that is not the password's: the node's refusal. */
async function refusal(nodeId: number, mechanism: string, user: string) {
  const connection = await KafkaConnection.open({
    host: '127.0.0.1',
    port: cluster.node(nodeId).listenerPorts.SASL_PLAINTEXT!,
  });
  try {
    await connection.call(ApiKey.SaslHandshake, 1, { mechanism });
    const nonce = randomBytes(24).toString('base64url');
    const first = await connection.call(ApiKey.SaslAuthenticate, 2, {
      authBytes: Buffer.from(`n,,n=${user},r=${nonce}`),
    });
    const combinedNonce = /r=([^,]+)/.exec(first.authBytes.toString('utf8'))![1]!;
    const proof = randomBytes(mechanism === 'SCRAM-SHA-256' ? 32 : 64).toString('base64');
    const final = await connection.call(ApiKey.SaslAuthenticate, 2, {
      authBytes: Buffer.from(`c=biws,r=${combinedNonce},p=${proof}`),
    });
    return { errorCode: final.errorCode, errorMessage: final.errorMessage };
  } finally {
    connection.close();
  }
}

describe('SCRAM does not tell whether a user exists, cluster-wide', () => {
  it('gives an unknown user the same salt and iterations from every node, and after a restart', async () => {
    const before = new Map<string, ServerFirst[]>();
    for (const mechanism of mechanisms) {
      for (const user of ['mallory', 'alice']) {
        const answers = await Promise.all([1, 2, 3].map((nodeId) => serverFirst(nodeId, mechanism, user)));
        expect(answers[1]).toEqual(answers[0]);
        expect(answers[2]).toEqual(answers[0]);
        expect(answers[0]!.iterations).toBe(4096);
        before.set(`${mechanism}/${user}`, answers);
      }
      expect(before.get(`${mechanism}/mallory`)![0]!.salt).not.toBe(
        before.get(`${mechanism}/alice`)![0]!.salt,
      );
      expect((await serverFirst(1, mechanism, 'trudy')).salt).not.toBe(
        before.get(`${mechanism}/mallory`)![0]!.salt,
      );
    }

    expect(await cluster.stop(2)).toBe(0);
    // The secret is on the stopped node's disk, and the shell says only that it is there.
    const offline = metadataShell(
      '--data-dir',
      join(cluster.node(2).dataDir, 'logs'),
      'cat',
      '/clusterSecret',
    );
    expect(offline.stdout).toBe('<redacted>\n');
    // Over the controller listener (DescribeMetadata, which any caller may send) it is not even named.
    const online = metadataShell('--controller', `127.0.0.1:${cluster.node(1).quorumPort}`, 'ls', '/');
    expect(online.stdout.split('\n')).toContain('brokers');
    expect(online.stdout.split('\n')).not.toContain('clusterSecret');
    await cluster.restart(2);
    await cluster.waitReady();
    for (const mechanism of mechanisms) {
      expect(await serverFirst(2, mechanism, 'mallory')).toEqual(before.get(`${mechanism}/mallory`)![0]);
      expect(await serverFirst(2, mechanism, 'alice')).toEqual(before.get(`${mechanism}/alice`)![0]);
    }
  }, 120_000);

  it('refuses a wrong password and an unknown user with the same error code and message', async () => {
    for (const mechanism of mechanisms) {
      const wrongPassword = await refusal(1, mechanism, 'alice');
      const unknownUser = await refusal(3, mechanism, 'mallory');
      expect(wrongPassword).toEqual({
        errorCode: ErrorCode.SASL_AUTHENTICATION_FAILED,
        errorMessage: `Authentication failed during authentication due to invalid credentials with SASL mechanism ${mechanism}`,
      });
      expect(unknownUser).toEqual(wrongPassword);
    }
  });
});
