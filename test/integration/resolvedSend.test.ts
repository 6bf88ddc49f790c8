/**
 * `sendResolved` sends as the SDK client's own `send` does, with the middleware chain's order worked out once per
 * shape of the stack: same order, same result, a context of its own per call, a middleware added later in the next
 * call's chain — and anything it cannot be sure of sent through the client's own `send`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
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

const sort = Array.prototype.sort;
// (put back even when an assertion fails before a test's own `restore()`)
afterEach(() => void (Array.prototype.sort = sort));

/** Counts the SDK's sorts of a merged middleware stack (its `send` makes one per call), until `restore()`. */
function countSorts(): { n: number; restore(): void } {
  const count = {
    n: 0,
    restore: () => void (Array.prototype.sort = sort),
  };
  Array.prototype.sort = function <T>(this: T[], compare?: (a: T, b: T) => number) {
    if (compare && String(compare).includes('stepWeights')) count.n++;
    return sort.call(this, compare) as T[];
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
    const sorts = countSorts();
    const sdk = await c.send(get('a'));
    bySdk.push(...seen.splice(0));
    expect(sorts.n).toBe(1);
    const ours = (await sendResolved(c, get('a'))) as typeof sdk;
    byUs.push(...seen.splice(0));
    expect(byUs).toEqual(bySdk);
    expect(bySdk).toEqual(['init-high', 'init-low', 'before-serializer', 'build', 'after-retry', 'finalize-high', 'deserialize']);
    expect(ours.Item).toEqual(sdk.Item);
    expect(ours.Item?.n).toEqual({ N: '12345678901234567890123456789012345678' });
    // once more with the same shape: the order is known, the SDK's merge of the stacks is not needed
    sorts.n = 0;
    for (let i = 0; i < 5; i++) await sendResolved(c, get('a'));
    sorts.restore();
    expect(sorts.n).toBe(0);
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
    const sorts = countSorts();
    // the SDK's own cache: one resolution for the command class, however many calls
    for (let i = 0; i < 3; i++) await sendResolved(cached, get('a'));
    sorts.restore();
    expect(sorts.n).toBe(1);
    cached.destroy();
  });

  it('should order an entry added with add and one added relative to another apart, however alike their options', async () => {
    const c = ownClient();
    const seen: string[] = [];
    const note = (label: string) => (next: Next) => (args: { input: Record<string, unknown> }) => {
      seen.push(label);
      return next(args);
    };
    (c.middlewareStack as unknown as { addRelativeTo(m: unknown, o: object): void }).addRelativeTo(note('before-retry'), {
      name: 'testBeforeRetry',
      relation: 'before',
      toMiddleware: 'retryMiddleware',
    });
    // one options object: absolute in the initialize step for `add`, after the retries for `addRelativeTo`
    const options = { name: 'testX', step: 'initialize', priority: 'normal', relation: 'after', toMiddleware: 'retryMiddleware' };
    const command = (relative: boolean) => {
      const cmd = get('a');
      const stack = cmd.middlewareStack as unknown as { add(m: unknown, o: object): void; addRelativeTo(m: unknown, o: object): void };
      if (relative) stack.addRelativeTo(note('x'), options);
      else stack.add(note('x'), options);
      return cmd;
    };
    const orders: string[] = [];
    for (const relative of [false, true, false, true]) {
      seen.length = 0;
      await sendResolved(c, command(relative));
      orders.push(seen.join(' > '));
      seen.length = 0;
      await c.send(command(relative));
      expect(orders.at(-1)).toBe(seen.join(' > '));
    }
    expect(orders).toEqual(['x > before-retry', 'before-retry > x', 'x > before-retry', 'before-retry > x']);
    c.destroy();
  });

  it('should leave a client whose stack merge is instrumented to the SDK, and a command that hands the merge on whole', async () => {
    const c = ownClient();
    let traced = 0;
    const stack = c.middlewareStack as unknown as { concat: (from: unknown) => { resolve: (h: unknown, x: unknown) => unknown } };
    const concat = stack.concat;
    // a tracer wrapping each merged stack's resolve, per client (as instrumentation libraries do)
    stack.concat = (from: unknown) => {
      const merged = concat(from);
      const resolve = merged.resolve;
      merged.resolve = (handler: unknown, context: unknown) => {
        const inner = resolve(handler, context) as (args: unknown) => unknown;
        return (args: unknown) => {
          traced++;
          return inner(args);
        };
      };
      return merged;
    };
    for (let i = 0; i < 3; i++) await sendResolved(c, get('a'));
    expect(traced).toBe(3);
    c.destroy();

    // a command that merges its own stack in front of another command's, and hands the merge on to it
    const d = ownClient();
    class Wrapper {
      readonly middlewareStack = get('a').middlewareStack;
      readonly inner = get('a');
      ran = false;
      constructor() {
        (this.middlewareStack as unknown as { add(m: unknown, o: object): void }).add(
          (next: Next) => (args: { input: Record<string, unknown> }) => {
            this.ran = true;
            return next(args);
          },
          { name: 'testWrapper', step: 'initialize' },
        );
      }
      resolveMiddleware(clientStack: { concat(s: unknown): unknown }, config: never, options: never) {
        const handler = this.inner.resolveMiddleware(clientStack.concat(this.middlewareStack) as never, config, options);
        return () => handler(this.inner as never);
      }
    }
    for (let i = 0; i < 3; i++) {
      const wrapper = new Wrapper();
      expect(((await sendResolved(d, wrapper)) as { Item?: unknown }).Item).toBeDefined();
      expect(wrapper.ran).toBe(true);
    }
    d.destroy();
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
