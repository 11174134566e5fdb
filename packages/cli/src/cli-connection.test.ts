import { type AddressInfo, createServer, type Socket } from 'node:net';
import { KafkaConnection, KafkaConnectionError } from '@gregor/client';
import { waitFor } from '@gregor/ground/testing';
import { describe, expect, it } from 'vitest';
import { connectFirstReachable, ReopeningConnection, withCliConnection } from './cli-connection.js';

class Closable {
  closed = 0;
  close(): void {
    this.closed++;
  }
}

class ToolError extends Error {}

function capture() {
  let text = '';
  return { output: { write: (chunk: string) => (text += chunk) }, text: () => text };
}

describe('withCliConnection', () => {
  it("returns the body's exit code and closes the connection", async () => {
    const connection = new Closable();
    const err = capture();
    expect(
      await withCliConnection(
        async () => connection,
        err.output,
        async () => 3,
      ),
    ).toBe(3);
    expect(connection.closed).toBe(1);
    expect(err.text()).toBe('');
  });

  it('reports a connection failure while opening as Error: <message>, exit code 1', async () => {
    const err = capture();
    const code = await withCliConnection(
      async (): Promise<Closable> => {
        throw new KafkaConnectionError('connect to h:1: refused');
      },
      err.output,
      async () => 0,
    );
    expect(code).toBe(1);
    expect(err.text()).toBe('Error: connect to h:1: refused\n');
  });

  it("reports a connection failure and the tool's own errors from the body, and closes", async () => {
    for (const failure of [new KafkaConnectionError('connection closed'), new ToolError('no such group')]) {
      const connection = new Closable();
      const err = capture();
      const code = await withCliConnection(
        async () => connection,
        err.output,
        async () => {
          throw failure;
        },
        [ToolError],
      );
      expect(code).toBe(1);
      expect(err.text()).toBe(`Error: ${failure.message}\n`);
      expect(connection.closed).toBe(1);
    }
  });

  it('rethrows any other error (a bug), after closing', async () => {
    const connection = new Closable();
    const err = capture();
    const bug = withCliConnection(
      async () => connection,
      err.output,
      async () => {
        throw new TypeError('undefined is not a function');
      },
      [ToolError],
    );
    await expect(bug).rejects.toThrow(TypeError);
    expect(connection.closed).toBe(1);
    expect(err.text()).toBe('');
  });
});

describe('connectFirstReachable', () => {
  const addresses = [
    { host: 'a', port: 1 },
    { host: 'b', port: 2 },
    { host: 'c', port: 3 },
  ];

  it('gives the first address that connects, trying them in order', async () => {
    const tried: string[] = [];
    const reached = await connectFirstReachable(addresses, async (host) => {
      tried.push(host);
      if (host === 'a') throw new Error('refused');
      return host;
    });
    expect(reached).toBe('b');
    expect(tried).toEqual(['a', 'b']);
  });

  it('names every address and its failure when none connects', async () => {
    const none = connectFirstReachable(addresses, async (host) => {
      throw new Error(`${host} refused`);
    });
    await expect(none).rejects.toThrow(KafkaConnectionError);
    await expect(none).rejects.toThrow(
      'no bootstrap server reachable (a:1: a refused; b:2: b refused; c:3: c refused)',
    );
  });
});

describe('ReopeningConnection', () => {
  it('keeps one connection while it is open, and opens another once the broker closed it', async () => {
    const accepted: Socket[] = [];
    const server = createServer((socket) => accepted.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    let opened = 0;
    const reopening = new ReopeningConnection(() => {
      opened++;
      return KafkaConnection.open({ host: '127.0.0.1', port });
    });
    try {
      const first = await reopening.get();
      expect(await reopening.get()).toBe(first);
      expect(opened).toBe(1);
      await waitFor('the connection accepted', async () => (accepted.length === 1 ? true : undefined));
      accepted[0]!.destroy();
      await waitFor('the connection closed', async () => (first.isClosed ? true : undefined));
      const second = await reopening.get();
      expect(second).not.toBe(first);
      expect(second.isClosed).toBe(false);
      expect(opened).toBe(2);
      reopening.close();
      await waitFor('the second connection closed', async () => (second.isClosed ? true : undefined));
    } finally {
      for (const socket of accepted) socket.destroy();
      server.close();
    }
  });
});
