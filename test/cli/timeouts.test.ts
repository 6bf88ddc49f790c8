/**
 * Issue 8, honest failures: every call the command line makes has a deadline (`--timeout`, default 60 s; 5 s to
 * connect), and the first SIGINT or SIGTERM stops it within seconds in every phase, exit 130. Before, `count`
 * against an endpoint that accepted connections and never answered hung for minutes and ignored a first SIGTERM.
 */
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt, runCli, startCli, tempDir, removeTempDirs } from './helpers.js';

/** A server on a free loopback port; `close` ends it and every connection it holds. */
async function listen(server: Server): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Accepts every connection, reads what comes, and never answers; counts the requests it got. */
async function blackHole() {
  let requests = 0;
  const server = createServer((socket) => socket.once('data', () => requests++));
  return { ...(await listen(server)), requests: () => requests };
}

const TABLE = {
  TableName: 'T',
  TableArn: 'arn:aws:dynamodb:local:000000000000:table/T',
  CreationDateTime: 1_700_000_000,
  KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
  AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
  ItemCount: 0,
};

/**
 * A fake DynamoDB speaking the JSON protocol: `answer(operation)` returns the status and body, or `undefined` to
 * never answer that call. Every operation it was asked for is in `calls`.
 */
async function fakeDynamo(answer: (operation: string) => [number, unknown] | undefined) {
  const calls: string[] = [];
  const server = createHttpServer((request: IncomingMessage, response: ServerResponse) => {
    request.resume();
    request.on('end', () => {
      const operation = String(request.headers['x-amz-target'] ?? '').split('.')[1] ?? '';
      calls.push(operation);
      const answered = answer(operation);
      if (!answered) return; // hang
      const [status, body] = answered;
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(body));
    });
  });
  return { ...(await listen(server)), calls };
}

const notFound = [400, { __type: 'com.amazonaws.dynamodb.v20120810#ResourceNotFoundException', message: 'no table' }] as [number, unknown];

/** Starts the binary, waits until `ready`, sends SIGTERM, and measures how long it took to end. */
async function terminated(args: string[], ready: () => boolean) {
  const run = startCli(args);
  const deadline = Date.now() + 20_000;
  while (!ready()) {
    if (Date.now() > deadline) throw new Error('the command never reached the phase to interrupt');
    await new Promise((r) => setTimeout(r, 25));
  }
  await new Promise((r) => setTimeout(r, 300)); // it is waiting now
  const signalled = Date.now();
  run.child.kill('SIGTERM');
  const result = await run.done;
  return { ...result, stoppedInMs: Date.now() - signalled };
}

describe('rxjs-dynamodb deadlines and signals', () => {
  const stops: (() => Promise<void>)[] = [];
  beforeAll(ensureBuilt, 120_000);
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
  });
  afterAll(removeTempDirs);

  it('should give up on an endpoint that accepts and never answers after the --timeout of each attempt, exit 3 (issue 8)', async () => {
    const hole = await blackHole();
    stops.push(hole.close);
    const started = Date.now();
    const run = await runCli(['count', '--table', 'T', '--endpoint', hole.endpoint, '--timeout', '0.5', '--no-progress']);
    const elapsed = Date.now() - started;
    expect(run.code).toBe(3);
    expect(run.stderr).toContain('DescribeTable T failed: TimeoutError');
    expect(run.stderr).toContain('--timeout');
    // the SDK makes 4 attempts of 0.5 s, with short backoffs between them
    expect(elapsed).toBeGreaterThanOrEqual(1_500);
    expect(elapsed).toBeLessThan(10_000);
  }, 30_000);

  it('should stop at the first SIGTERM while DescribeTable waits for an answer, exit 130 (issue 8)', async () => {
    const hole = await blackHole();
    stops.push(hole.close);
    // the default timeout is 60 s: only the signal can end it this soon
    const result = await terminated(['count', '--table', 'T', '--endpoint', hole.endpoint, '--no-progress'], () => hole.requests() > 0);
    expect(result.stoppedInMs).toBeLessThan(3_000);
    expect(result.code).toBe(130);
    expect(hole.requests()).toBe(1);
    expect(result.stderr).toContain('interrupted while describing table T');
  }, 30_000);

  it("should stop at the first SIGTERM during count's scan, exit 130", async () => {
    const fake = await fakeDynamo((operation) =>
      operation === 'DescribeTable' ? [200, { Table: { ...TABLE, TableStatus: 'ACTIVE' } }] : undefined,
    );
    stops.push(fake.close);
    const result = await terminated(['count', '--table', 'T', '--endpoint', fake.endpoint, '--no-progress'], () =>
      fake.calls.includes('Scan'),
    );
    expect(result.stoppedInMs).toBeLessThan(3_000);
    expect(result.code).toBe(130);
    expect(fake.calls.filter((c) => c === 'Scan')).toHaveLength(1);
  }, 30_000);

  it('should stop at the first SIGTERM while waiting for a new table to become active, exit 130', async () => {
    let created = false;
    const fake = await fakeDynamo((operation) => {
      if (operation === 'CreateTable') {
        created = true;
        return [200, { TableDescription: { ...TABLE, TableStatus: 'CREATING' } }];
      }
      if (operation === 'DescribeTable') return created ? [200, { Table: { ...TABLE, TableStatus: 'CREATING' } }] : notFound;
      return undefined;
    });
    stops.push(fake.close);
    const file = join(tempDir(), 'items.ndjson');
    writeFileSync(file, '{"pk":"a"}\n');
    const result = await terminated(
      ['import', file, '--table', 'T', '--create-table', '--key', 'pk', '--endpoint', fake.endpoint, '--no-progress'],
      () => created,
    );
    expect(result.stoppedInMs).toBeLessThan(3_000);
    expect(result.code).toBe(130);
    expect(result.stderr).toContain('interrupted while waiting for the new table T to become active');
    expect(fake.calls).not.toContain('BatchWriteItem');
  }, 30_000);

  it('should stop at the first SIGTERM while a write is unanswered, naming the checkpoint to resume with, exit 130', async () => {
    const fake = await fakeDynamo((operation) =>
      operation === 'DescribeTable' ? [200, { Table: { ...TABLE, TableStatus: 'ACTIVE' } }] : undefined,
    );
    stops.push(fake.close);
    const dir = tempDir();
    const file = join(dir, 'items.ndjson');
    writeFileSync(file, '{"pk":"a"}\n{"pk":"b"}\n');
    const checkpoint = join(dir, 'import.checkpoint.json');
    const result = await terminated(
      ['import', file, '--table', 'T', '--resume', checkpoint, '--endpoint', fake.endpoint, '--no-progress'],
      () => fake.calls.includes('BatchWriteItem'),
    );
    expect(result.stoppedInMs).toBeLessThan(3_000);
    expect(result.code).toBe(130);
    expect(result.stderr).toContain(`--resume ${checkpoint}`);
  }, 30_000);

  it('should refuse a --timeout that is not a number of seconds > 0, exit 2', async () => {
    for (const bad of ['0', '-1', 'soon']) {
      const run = await runCli(['count', '--table', 'T', '--endpoint', 'http://127.0.0.1:9', '--timeout', bad]);
      expect(run.code).toBe(2);
      expect(run.stderr).toContain('must be a number of seconds > 0');
    }
  });
});
