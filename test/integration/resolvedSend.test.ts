/**
 * `sendResolved` sends as the SDK client's own `send` does, with the middleware chain's order worked out once per
 * shape of the stack: same order, same result, a context of its own per call, a middleware added later in the next
 * call's chain — and anything it cannot be sure of sent through the client's own `send`.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { from, lastValueFrom, toArray } from 'rxjs';
import { dynamoUpdate } from 'rxjs-dynamodb';
import { sendResolved } from '../../src/internal/engine/resolvedSend.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../helpers/tables.js';

type Next = (args: { input: Record<string, unknown> }) => Promise<{ output: Record<string, unknown> }>;
type Context = Record<string | symbol, unknown>;

let client: DynamoDBClient;
let table: string;
beforeAll(async () => {
  client = localClient(inject('dynamoEndpoint'));
  table = await createTable(client, uniqueTable('ResolvedSend'));
  await client.send(
    new PutItemCommand({
      TableName: table,
      Item: {
        pk: { S: 'a' },
        n: { N: '12345678901234567890123456789012345678' },
        b: { B: new Uint8Array([0, 255]) },
        t: { S: '\u{1F600}' },
      },
    }),
  );
});
afterAll(() => client.destroy());

/** A client of its own (its stack gets test middlewares) on the same DynamoDB Local. */
const ownClient = () => localClient(inject('dynamoEndpoint'));
const get = (pk: string) => new GetItemCommand({ TableName: table, Key: { pk: { S: pk } }, ConsistentRead: true });

/** Adds middlewares at every step, priority and relation that note the order they run in. */
function recorders(c: DynamoDBClient, seen: string[]): void {
  const note = (label: string) => (next: Next) => (args: { input: Record<string, unknown> }) => {
    seen.push(label);
    return next(args);
  };
  const stack = c.middlewareStack as unknown as {
    add(m: unknown, o: object): void;
    addRelativeTo(m: unknown, o: object): void;
  };
  stack.add(note('init-low'), { step: 'initialize', priority: 'low', name: 'testInitLow' });
  stack.add(note('init-high'), { step: 'initialize', priority: 'high', name: 'testInitHigh' });
  stack.add(note('build'), { step: 'build', name: 'testBuild', aliases: ['testBuildAlias'] });
  stack.add(note('finalize-high'), { step: 'finalizeRequest', priority: 'high', name: 'testFinalizeHigh' });
  stack.add(note('deserialize'), { step: 'deserialize', name: 'testDeserialize' });
  stack.addRelativeTo(note('before-serializer'), {
    relation: 'before',
    toMiddleware: 'serializerMiddleware',
    name: 'testBeforeSerializer',
  });
  stack.addRelativeTo(note('after-retry'), { relation: 'after', toMiddleware: 'retryMiddleware', name: 'testAfterRetry' });
}

/** Counts the merges of the client's stack with a command's (the SDK's `send` makes one per call). */
function countConcats(c: DynamoDBClient): { n: number } {
  const stack = c.middlewareStack as unknown as { concat: (...args: unknown[]) => unknown };
  const concat = stack.concat;
  const count = { n: 0 };
  stack.concat = (...args: unknown[]) => {
    count.n++;
    return concat(...args);
  };
  return count;
}

describe('sendResolved', () => {
  it("should run the chain in the SDK's order, give the SDK's result, and work the order out once", async () => {
    const c = ownClient();
    const bySdk: string[] = [];
    const byUs: string[] = [];
    const seen: string[] = [];
    recorders(c, seen);
    const concats = countConcats(c);
    const sdk = await c.send(get('a'));
    bySdk.push(...seen.splice(0));
    expect(concats.n).toBe(1);
    const ours = (await sendResolved(c, get('a'))) as typeof sdk;
    byUs.push(...seen.splice(0));
    expect(byUs).toEqual(bySdk);
    expect(bySdk).toEqual(['init-high', 'init-low', 'before-serializer', 'build', 'after-retry', 'finalize-high', 'deserialize']);
    expect(ours.Item).toEqual(sdk.Item);
    expect(ours.Item?.n).toEqual({ N: '12345678901234567890123456789012345678' });
    // once more with the same shape: the order is known, the SDK's merge of the stacks is not needed
    concats.n = 0;
    for (let i = 0; i < 5; i++) await sendResolved(c, get('a'));
    expect(concats.n).toBe(0);
    expect(seen.length).toBe(35);
    c.destroy();
  });

  it('should give every call a context of its own, however many run at once', async () => {
    const c = ownClient();
    const MARK = Symbol('call');
    const stack = c.middlewareStack as unknown as { add(m: unknown, o: object): void };
    stack.add(
      (next: Next, context: Context) => async (args: { input: Record<string, unknown> }) => {
        const pk = (args.input.Key as { pk: { S: string } }).pk.S;
        context[MARK] = pk;
        const result = await next(args);
        return { ...result, output: { ...result.output, mark: context[MARK], pk } };
      },
      { step: 'initialize', name: 'testMark' },
    );
    const outputs = (await Promise.all(Array.from({ length: 40 }, (_, i) => sendResolved(c, get(`k${i}`))))) as Array<{
      mark: string;
      pk: string;
    }>;
    expect(outputs.map((o) => o.mark)).toEqual(outputs.map((o) => o.pk));
    c.destroy();
  });

  it('should put a middleware added to the client after a first call in the next call', async () => {
    const c = ownClient();
    await sendResolved(c, get('a'));
    const seen: string[] = [];
    recorders(c, seen);
    await sendResolved(c, get('a'));
    expect(seen).toEqual(['init-high', 'init-low', 'before-serializer', 'build', 'after-retry', 'finalize-high', 'deserialize']);
    (c.middlewareStack as unknown as { remove(name: string): boolean }).remove('testBuild');
    seen.length = 0;
    await sendResolved(c, get('a'));
    expect(seen).toEqual(['init-high', 'init-low', 'before-serializer', 'after-retry', 'finalize-high', 'deserialize']);
    c.destroy();
  });

  it("should keep an unnamed middleware in the SDK's order (sent by the client's own send)", async () => {
    const c = ownClient();
    const seen: string[] = [];
    recorders(c, seen);
    (c.middlewareStack as unknown as { add(m: unknown, o: object): void }).add(
      (next: Next) => (args: { input: Record<string, unknown> }) => {
        seen.push('unnamed');
        return next(args);
      },
      { step: 'build', priority: 'high' },
    );
    await sendResolved(c, get('a'));
    expect(seen).toEqual(['init-high', 'init-low', 'before-serializer', 'unnamed', 'build', 'after-retry', 'finalize-high', 'deserialize']);
    c.destroy();
  });

  it("should send through a client's own send when it is not the SDK's, or caches its middleware", async () => {
    const c = ownClient();
    let wrapped = 0;
    const send = c.send.bind(c);
    (c as unknown as { send: unknown }).send = (command: never, options?: never) => {
      wrapped++;
      return send(command, options);
    };
    expect(((await sendResolved(c, get('a'))) as { Item?: unknown }).Item).toBeDefined();
    expect(wrapped).toBe(1);
    c.destroy();

    const cached = new DynamoDBClient({
      endpoint: inject('dynamoEndpoint'),
      region: 'local',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      cacheMiddleware: true,
    });
    const concats = countConcats(cached);
    // the SDK's own cache: one resolution for the command class, however many calls
    for (let i = 0; i < 3; i++) await sendResolved(cached, get('a'));
    expect(concats.n).toBe(1);
    cached.destroy();
  });

  it("should leave an operator's writes exact through a document client", async () => {
    const doc = DynamoDBDocumentClient.from(client);
    const results = await lastValueFrom(
      from(Array.from({ length: 30 }, () => ({ key: { pk: 'counter' }, add: { n: 1n }, set: { t: '\u{1F680}' } }))).pipe(
        dynamoUpdate(doc, table, { concurrency: 8 }),
        toArray(),
      ),
    );
    expect(results.every((r) => r.status === 'written')).toBe(true);
    const item = await client.send(get('counter'));
    expect(item.Item).toEqual({ pk: { S: 'counter' }, n: { N: '30' }, t: { S: '\u{1F680}' } });
    const raw = new UpdateItemCommand({
      TableName: table,
      Key: { pk: { S: 'counter' } },
      UpdateExpression: 'ADD #n :big',
      ExpressionAttributeNames: { '#n': 'n' },
      ExpressionAttributeValues: { ':big': { N: '99999999999999999999999999999999999970' } },
      ReturnValues: 'UPDATED_NEW',
    });
    const out = (await sendResolved(doc, raw)) as { Attributes?: unknown };
    expect(out.Attributes).toEqual({ n: { N: '100000000000000000000000000000000000000' } });
  });
});
