import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { from, lastValueFrom, type Observable, toArray } from 'rxjs';
import {
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactGetItemsCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import type { DynamoDBSender } from '../../src/types.js';
import { dynamoTransactGet, type TransactGetGroup } from '../../src/operators/dynamoTransactGet.js';
import {
  dynamoTransactWrite,
  type TransactCancelled,
  type TransactGroup,
  type TransactWriteFailure,
} from '../../src/operators/dynamoTransactWrite.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';

let client: DynamoDBClient;
beforeAll(() => {
  client = localClient(inject('dynamoEndpoint'));
});
afterAll(() => client.destroy());

const all = <T>(outcomes$: Observable<T>) => lastValueFrom(outcomes$.pipe(toArray()));
const byIndex = <T extends { index: number }>(outcomes: T[]) => [...outcomes].sort((a, b) => a.index - b.index);
const byPk = (items: Record<string, unknown>[]) => [...items].sort((a, b) => String(a.pk).localeCompare(String(b.pk)));

/** `client`, counting the transaction calls that go through it. */
function counting(inner: DynamoDBSender) {
  const counts = { TransactWriteItems: 0, TransactGetItems: 0 };
  const sender: DynamoDBSender = {
    send(command, options) {
      if (command instanceof TransactWriteItemsCommand) counts.TransactWriteItems++;
      if (command instanceof TransactGetItemsCommand) counts.TransactGetItems++;
      return inner.send(command, options);
    },
  };
  return { sender, counts };
}

/** `client`, whose first TransactWriteItems lands in DynamoDB but is answered with a timeout, as when a response is lost. */
function losingFirstResponse(inner: DynamoDBClient): DynamoDBSender {
  let lost = false;
  return {
    async send(command, options) {
      const output = await inner.send(command, options);
      if (command instanceof TransactWriteItemsCommand && !lost) {
        lost = true;
        throw Object.assign(new Error('socket timed out (the call landed)'), { name: 'TimeoutError' });
      }
      return output;
    },
  };
}

describe('dynamoTransactWrite against DynamoDB Local', () => {
  it.each([
    ['a DynamoDBClient', (c: DynamoDBClient): DynamoDBSender => c],
    ['a DynamoDBDocumentClient', (c: DynamoDBClient): DynamoDBSender => DynamoDBDocumentClient.from(c)],
  ])('should apply each group atomically across two tables with %s', async (_, wrap) => {
    const orders = await createTable(client, uniqueTable('TxOrders'));
    const stock = await createTable(client, uniqueTable('TxStock'));
    await client.send(new PutItemCommand({ TableName: stock, Item: { pk: { S: 'widget' }, left: { N: '10' } } }));
    await client.send(new PutItemCommand({ TableName: orders, Item: { pk: { S: 'draft#1' } } }));
    const groups: TransactGroup[] = [
      [
        { table: orders, put: { pk: 'order#1', item: 'widget', qty: 3 }, condition: { attributeNotExists: 'pk' } },
        { table: stock, key: { pk: 'widget' }, update: { add: { left: -3 } }, condition: { left: { ge: 3 } } },
        { table: orders, delete: { pk: 'draft#1' } },
      ],
    ];
    const outcomes = await all(from(groups).pipe(dynamoTransactWrite(wrap(client), { returnConsumedCapacity: 'TOTAL' })));
    expect(outcomes).toMatchObject([{ status: 'written', index: 0, attempts: 1 }]);
    expect((outcomes[0] as { consumedCapacity: unknown[] }).consumedCapacity).toHaveLength(2);
    expect(await scanAll(client, orders)).toEqual([{ pk: 'order#1', item: 'widget', qty: 3 }]);
    expect(await scanAll(client, stock)).toEqual([{ pk: 'widget', left: 7 }]);
  });

  it('should apply nothing of a group whose one condition fails, and map the reason to that action', async () => {
    const table = await createTable(client, uniqueTable('TxCancel'));
    const other = await createTable(client, uniqueTable('TxCancelOther'));
    await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'ticket#1' }, n: { N: '1' } } }));
    await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'ticket#2' }, state: { S: 'closed' } } }));
    const group: TransactGroup = [
      { table: other, put: { pk: 'log#1' } },
      { table, key: { pk: 'ticket#1' }, update: { add: { n: 1 } } },
      { table, conditionCheck: { pk: 'ticket#2' }, condition: { state: 'open' }, returnOnConditionFailure: true },
    ];
    const outcomes = await all(from([group]).pipe(dynamoTransactWrite(client)));
    expect(outcomes).toHaveLength(1);
    const cancelled = outcomes[0] as TransactCancelled;
    expect(cancelled.status).toBe('cancelled');
    expect(cancelled.attempts).toBe(1);
    expect(cancelled.reasons).toEqual([
      {
        index: 2,
        action: group[2],
        code: 'ConditionalCheckFailed',
        message: expect.any(String),
        item: { pk: 'ticket#2', state: 'closed' },
      },
    ]);
    expect(await scanAll(client, other)).toEqual([]);
    expect(byPk(await scanAll(client, table))).toEqual([
      { pk: 'ticket#1', n: 1 },
      { pk: 'ticket#2', state: 'closed' },
    ]);
  });

  it('should apply a group once when its call is sent twice with the same token (a retry after a lost response)', async () => {
    const table = await createTable(client, uniqueTable('TxToken'));
    const increment = (by: number): TransactGroup => [{ table, key: { pk: 'counter' }, update: { add: { n: by } } }];
    const outcomes = await all(
      from([increment(1)]).pipe(dynamoTransactWrite(losingFirstResponse(client), { backoff: { baseDelayMs: 1 } })),
    );
    // the first call landed, its answer was lost, the retry carried the same token: DynamoDB applied it once
    expect(outcomes).toMatchObject([{ status: 'written', attempts: 2, token: expect.stringMatching(/^[0-9a-f]{36}$/) }]);
    expect(await scanAll(client, table)).toEqual([{ pk: 'counter', n: 1 }]);

    // the same without a token applies twice: it is the token that makes the retry safe
    const other = await createTable(client, uniqueTable('TxNoToken'));
    const noToken: TransactGroup = [{ table: other, key: { pk: 'counter' }, update: { add: { n: 1 } } }];
    await all(
      from([noToken]).pipe(dynamoTransactWrite(losingFirstResponse(client), { clientRequestToken: 'none', backoff: { baseDelayMs: 1 } })),
    );
    expect(await scanAll(client, other)).toEqual([{ pk: 'counter', n: 2 }]);
  });

  it('should apply identical groups once within the token window, saying which one was a replay', async () => {
    const table = await createTable(client, uniqueTable('TxReplay'));
    const increment = (): TransactGroup => [{ table, key: { pk: 'counter' }, update: { add: { n: 1 } } }];
    const outcomes = byIndex(await all(from([increment(), increment()]).pipe(dynamoTransactWrite(client, { concurrency: 1 }))));
    expect(outcomes.map((o) => [o.status, (o as { replayOf?: number }).replayOf])).toEqual([
      ['written', undefined],
      ['written', 0],
    ]);
    expect(await scanAll(client, table)).toEqual([{ pk: 'counter', n: 1 }]);
    // with a token per event, both apply
    const events = from([increment(), increment()]);
    await all(events.pipe(dynamoTransactWrite(client, { clientRequestToken: (_, i) => `event-${table}-${i}`.slice(-36) })));
    expect(await scanAll(client, table)).toEqual([{ pk: 'counter', n: 3 }]);
  });

  it('should refuse groups over 100 actions, over 4 MB or with two actions on one item before any call', async () => {
    const table = await createTable(client, uniqueTable('TxRefuse'));
    const { sender, counts } = counting(client);
    const padding = 'x'.repeat(400_000);
    const groups: TransactGroup[] = [
      Array.from({ length: 101 }, (_, i) => ({ table, put: { pk: `k${i}` } })),
      Array.from({ length: 11 }, (_, i) => ({ table, put: { pk: `big${i}`, padding } })),
      [
        { table, put: { pk: 'same' } },
        { table, delete: { pk: 'same' } },
      ],
    ];
    const outcomes = byIndex(await all(from(groups).pipe(dynamoTransactWrite(sender, { keyAttributes: { [table]: ['pk'] } }))));
    expect(outcomes.map((o) => [o.status, (o as TransactWriteFailure).error.problem])).toEqual([
      ['invalid', 'group.tooManyActions'],
      ['invalid', 'group.tooLarge'],
      ['invalid', 'group.duplicateItem'],
    ]);
    expect(counts.TransactWriteItems).toBe(0);
    expect(await scanAll(client, table)).toEqual([]);
  });

  it('should measure the 4 MB limit as DynamoDB does: a group of exactly 4,194,304 payload bytes is written, one byte more refused', async () => {
    const table = await createTable(client, uniqueTable('TxLimit'));
    await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'u' } } }));
    const { sender, counts } = counting(client);
    // payload: puts by item size (pk + "kNN" = 5, "d" = 1, the string), the update by key size (pk + "u" = 3) +
    // "SET #n0 = :v0" (13) + the name "note" (4) + the value (10)
    const put = (i: number, size: number) => ({ table, put: { pk: `k${String(i).padStart(2, '0')}`, d: 'x'.repeat(size - 6) } });
    const update = { table, key: { pk: 'u' }, update: { set: { note: 'y'.repeat(10) } } };
    const group = (last: number): TransactGroup => [...Array.from({ length: 10 }, (_, i) => put(i, 400_000)), put(10, last), update];
    const exact = 4 * 1024 * 1024 - 4_000_000 - (3 + 13 + 4 + 10);
    const outcomes = byIndex(
      await all(
        from([group(exact), group(exact + 1)]).pipe(dynamoTransactWrite(sender, { keyAttributes: { [table]: ['pk'] }, concurrency: 1 })),
      ),
    );
    expect(outcomes.map((o) => o.status)).toEqual(['written', 'invalid']);
    expect((outcomes[1] as TransactWriteFailure).error.message).toMatch(/is 4194305 bytes by DynamoDB's transaction payload rules/);
    expect(counts.TransactWriteItems).toBe(1);
  });

  it('should transfer between two tables with a balance condition, in input order, refusing the transfer that would overdraw', async () => {
    const checking = await createTable(client, uniqueTable('TxChecking'));
    const savings = await createTable(client, uniqueTable('TxSavings'));
    await client.send(new PutItemCommand({ TableName: checking, Item: { pk: { S: 'alice' }, balance: { N: '100' } } }));
    await client.send(new PutItemCommand({ TableName: savings, Item: { pk: { S: 'alice' }, balance: { N: '0' } } }));
    const transfer = (amount: number): TransactGroup => [
      { table: checking, key: { pk: 'alice' }, update: { add: { balance: -amount } }, condition: { balance: { ge: amount } } },
      { table: savings, key: { pk: 'alice' }, update: { add: { balance: amount } } },
    ];
    const amounts = [30, 80, 70, 1];
    const outcomes = byIndex(await all(from(amounts.map(transfer)).pipe(dynamoTransactWrite(client, { concurrency: 4 }))));
    // 100 → 70 (30 moved), 80 refused (70 < 80), 70 → 0, 1 refused (0 < 1): the groups share items, so they go in order
    expect(outcomes.map((o) => o.status)).toEqual(['written', 'cancelled', 'written', 'cancelled']);
    const refused = outcomes[1] as TransactCancelled;
    expect(refused.reasons.map((r) => [r.index, r.code])).toEqual([[0, 'ConditionalCheckFailed']]);
    expect(await scanAll(client, checking)).toEqual([{ pk: 'alice', balance: 0 }]);
    expect(await scanAll(client, savings)).toEqual([{ pk: 'alice', balance: 100 }]);
  });

  it('should keep 38-digit numbers and sets exactly, written and read back in one transaction', async () => {
    const table = await createTable(client, uniqueTable('TxExact'));
    const big = '12345678901234567890123456789012345678';
    const decimal = '0.1234567890123456789012345678901234567';
    await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'sum' }, n: { N: '1' } } }));
    const group: TransactGroup = [
      {
        table,
        put: {
          pk: 'exact',
          big: NumberValue.from(big),
          decimal: NumberValue.from(decimal),
          ints: new Set([NumberValue.from(big), 7n]),
          tags: new Set(['a', 'b']),
          bytes: new Set([new Uint8Array([1, 2]), new Uint8Array([3])]),
          nested: { list: [NumberValue.from(decimal), { deep: 2n ** 100n }] },
        },
      },
      { table, key: { pk: 'sum' }, update: { add: { n: NumberValue.from('99999999999999999999999999999999999998') } } },
    ];
    expect(await all(from([group]).pipe(dynamoTransactWrite(client)))).toMatchObject([{ status: 'written' }]);

    const raw = (pk: string) => client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: pk } } })).then((r) => r.Item!);
    const exact = await raw('exact');
    expect(exact.big).toEqual({ N: big });
    expect(exact.decimal).toEqual({ N: decimal });
    expect([...exact.ints!.NS!].sort()).toEqual([big, '7']);
    expect([...exact.tags!.SS!].sort()).toEqual(['a', 'b']);
    expect(exact.bytes!.BS!.map((b) => [...b])).toEqual([[1, 2], [3]]);
    expect(exact.nested!.M!.list!.L).toEqual([{ N: decimal }, { M: { deep: { N: String(2n ** 100n) } } }]);
    expect((await raw('sum')).n).toEqual({ N: '99999999999999999999999999999999999999' });

    const [read] = await all(
      from([
        [
          { table, key: { pk: 'exact' } },
          { table, key: { pk: 'missing' } },
          { table, key: { pk: 'sum' }, projection: ['n'] },
        ],
      ] as TransactGetGroup[]).pipe(dynamoTransactGet(client, { onFailure: 'error' })),
    );
    const [item, missing, sum] = read!.items as Array<Record<string, unknown> | undefined>;
    expect(String(item!.big)).toBe(big);
    expect(String(item!.decimal)).toBe(decimal);
    expect([...(item!.ints as Set<unknown>)].map(String).sort()).toEqual([big, '7']);
    expect(item!.tags).toEqual(new Set(['a', 'b']));
    expect((item!.nested as { list: [unknown, { deep: unknown }] }).list[1].deep).toBe(2n ** 100n);
    expect(missing).toBeUndefined();
    expect(sum).toEqual({ n: expect.anything() });
    expect(String(sum!.n)).toBe('99999999999999999999999999999999999999');
  });
});

describe('dynamoTransactGet against DynamoDB Local', () => {
  it('should read a group across tables in action order, and refuse one reading an item twice before any call', async () => {
    const a = await createTable(client, uniqueTable('TxGetA'));
    const b = await createTable(client, uniqueTable('TxGetB'));
    await client.send(new PutItemCommand({ TableName: a, Item: { pk: { S: '1' }, name: { S: 'one' }, extra: { S: 'x' } } }));
    await client.send(new PutItemCommand({ TableName: b, Item: { pk: { S: '2' }, name: { S: 'two' } } }));
    const { sender, counts } = counting(client);
    const groups: TransactGetGroup[] = [
      [
        { table: b, key: { pk: '2' } },
        { table: a, key: { pk: 'nope' } },
        { table: a, key: { pk: '1' }, projection: ['name'] },
      ],
      [
        { table: a, key: { pk: '1' } },
        { table: a, key: { pk: '1' } },
      ],
    ];
    const outcomes = byIndex(await all(from(groups).pipe(dynamoTransactGet(sender, { returnConsumedCapacity: 'TOTAL' }))));
    expect(outcomes[0]).toMatchObject({ status: 'read', attempts: 1, items: [{ pk: '2', name: 'two' }, undefined, { name: 'one' }] });
    expect(outcomes[1]).toMatchObject({ status: 'invalid', error: { problem: 'group.duplicateItem', action: 1 } });
    expect(counts.TransactGetItems).toBe(1);
  });
});

describe('DynamoDB Local facts about transactions', () => {
  it('should honour ClientRequestToken: the same token and content apply once; other content under it is a mismatch', async () => {
    const table = await createTable(client, uniqueTable('TxFacts'));
    const send = (token: string, by: string) =>
      client.send(
        new TransactWriteItemsCommand({
          ClientRequestToken: token,
          TransactItems: [
            {
              Update: {
                TableName: table,
                Key: { pk: { S: 'c' } },
                UpdateExpression: 'ADD n :d',
                ExpressionAttributeValues: { ':d': { N: by } },
              },
            },
          ],
        }),
      );
    await send('fact-token', '1');
    await send('fact-token', '1');
    expect(await scanAll(client, table)).toEqual([{ pk: 'c', n: 1 }]);
    await expect(send('fact-token', '2')).rejects.toMatchObject({ name: 'IdempotentParameterMismatchException' });
    await expect(send('x'.repeat(37), '1')).rejects.toMatchObject({ name: 'ValidationException' });
  });

  it('should give one CancellationReason per action, None for the ones that did not fail', async () => {
    const table = await createTable(client, uniqueTable('TxReasons'));
    const error = await client
      .send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Put: { TableName: table, Item: { pk: { S: 'a' } } } },
            { ConditionCheck: { TableName: table, Key: { pk: { S: 'b' } }, ConditionExpression: 'attribute_exists(pk)' } },
          ],
        }),
      )
      .catch((e: unknown) => e);
    expect(error).toMatchObject({
      name: 'TransactionCanceledException',
      CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed', Message: expect.any(String) }],
    });
  });
});
