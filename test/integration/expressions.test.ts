/**
 * Issue 12 on DynamoDB Local: the compiled expressions run through UpdateItem, PutItem, DeleteItem and a
 * TransactWriteItems ConditionCheck, values marshalled by the toolkit's lossless marshaller, and the resulting items
 * read back exactly.
 */
import {
  type AttributeValue,
  DeleteItemCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type CompiledExpressions, type Condition, compileExpressions, ifNotExists, increment, listAppend } from '../../src/expressions.js';
import { marshallItem } from '../../src/internal/marshal.js';
import { exactUnmarshall } from '../../src/internal/unmarshal.js';
import { normal, value } from '../helpers/arbitraries.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../helpers/tables.js';

let client: DynamoDBClient;
let TableName: string;

beforeAll(async () => {
  client = localClient(inject('dynamoEndpoint'), { maxAttempts: 1 });
  TableName = await createTable(client, uniqueTable('expressions'));
});
afterAll(() => client?.destroy());

const key = (pk: string) => ({ pk: { S: pk } });
/** The command fields of compiled expressions, values marshalled as the toolkit does. */
const wire = ({ ExpressionAttributeValues, ...rest }: CompiledExpressions) => ({
  ...rest,
  ...(ExpressionAttributeValues ? { ExpressionAttributeValues: marshallItem(ExpressionAttributeValues, {}) } : {}),
});
const seed = (item: Record<string, unknown>) => client.send(new PutItemCommand({ TableName, Item: marshallItem(item, {}) }));
const update = (pk: string, parts: Parameters<typeof compileExpressions>[0]) =>
  client.send(new UpdateItemCommand({ TableName, Key: key(pk), ...wire(compileExpressions(parts)) }));
async function raw(pk: string): Promise<Record<string, AttributeValue> | undefined> {
  return (await client.send(new GetItemCommand({ TableName, Key: key(pk), ConsistentRead: true }))).Item;
}
async function read(pk: string): Promise<Record<string, unknown> | undefined> {
  const item = await raw(pk);
  return item && exactUnmarshall(item);
}
const rejection = (p: Promise<unknown>) =>
  p.then(
    () => 'passed',
    (e: Error) => e.name,
  );

describe('compileExpressions on DynamoDB Local: updates', () => {
  it('should SET nested paths and list elements, reserved words included', async () => {
    await seed({ pk: 'nested', stats: { views: 1, size: 0 }, tags: ['a', 'b'], status: 'draft' });
    await update('nested', {
      update: { set: { 'stats.views': 5, 'stats.size': 7, 'tags[1]': 'B', status: 'open', name: 'N', count: 3, size: 'L', 'a-b c': 1 } },
    });
    expect(await read('nested')).toStrictEqual({
      pk: 'nested',
      stats: { views: 5, size: 7 },
      tags: ['a', 'B'],
      status: 'open',
      name: 'N',
      count: 3,
      size: 'L',
      'a-b c': 1,
    });
  });

  it('should SET through array paths, names with dots and brackets taken literally', async () => {
    await seed({ pk: 'weird', 'weird.name': { 'x[0]': 1, list: [0, 0] } });
    await update('weird', {
      update: {
        set: [
          [['weird.name', 'x[0]'], 2],
          [['weird.name', 'list', 1], 9],
        ],
      },
    });
    expect(await read('weird')).toStrictEqual({ pk: 'weird', 'weird.name': { 'x[0]': 2, list: [0, 9] } });
  });

  it('should set a default with ifNotExists only where the attribute is absent', async () => {
    await seed({ pk: 'default-present', createdAt: 1 });
    await seed({ pk: 'default-absent' });
    for (const pk of ['default-present', 'default-absent'])
      await update(pk, { update: { set: { createdAt: ifNotExists('createdAt', 99) } } });
    expect(await read('default-present')).toStrictEqual({ pk: 'default-present', createdAt: 1 });
    expect(await read('default-absent')).toStrictEqual({ pk: 'default-absent', createdAt: 99 });
  });

  it('should append and prepend with listAppend', async () => {
    await seed({ pk: 'lists', log: ['b'], m: { l: [2] } });
    await update('lists', { update: { set: { log: listAppend('log', ['c', 'd']), 'm.l': listAppend('m.l', [0, 1], { prepend: true }) } } });
    await update('lists', { update: { set: { log: listAppend('log', ['a'], { prepend: true }) } } });
    expect(await read('lists')).toStrictEqual({ pk: 'lists', log: ['a', 'b', 'c', 'd'], m: { l: [0, 1, 2] } });
  });

  it('should refuse listAppend and increment on an absent attribute, as DynamoDB does (documented)', async () => {
    await seed({ pk: 'absent' });
    expect(await rejection(update('absent', { update: { set: { log: listAppend('log', ['a']) } } }))).toBe('ValidationException');
    expect(await rejection(update('absent', { update: { set: { n: increment('n', 1) } } }))).toBe('ValidationException');
  });

  it('should add exactly with increment and ADD: 38-digit NumberValues and bigints beyond 2^53', async () => {
    const digits38 = '12345678901234567890123456789012345677';
    const beyond = 2n ** 53n + 1n; // not a double
    await seed({ pk: 'numbers', big: NumberValue.from(digits38), huge: beyond, down: 10 });
    await update('numbers', {
      update: {
        set: { big: increment('big', 1), huge: increment('huge', beyond), down: increment('down', -11), copy: increment('huge', 1n) },
        add: { fresh: NumberValue.from('-9.9999999999999999999999999999999999999'), counter: 2n ** 60n + 1n },
      },
    });
    await update('numbers', {
      update: { add: { counter: 2n ** 60n + 1n, fresh: NumberValue.from('0.0000000000000000000000000000000000001') } },
    });
    const item = await raw('numbers');
    expect(item?.big).toStrictEqual({ N: '12345678901234567890123456789012345678' });
    expect(item?.huge).toStrictEqual({ N: String(2n * beyond) });
    expect(item?.copy).toStrictEqual({ N: String(beyond + 1n) });
    expect(item?.down).toStrictEqual({ N: '-1' });
    expect(item?.counter).toStrictEqual({ N: String(2n * (2n ** 60n + 1n)) });
    expect(item?.fresh).toStrictEqual({ N: '-9.9999999999999999999999999999999999998' });
  });

  it('should REMOVE attributes, map entries and list elements', async () => {
    await seed({ pk: 'remove', a: 1, m: { x: 1, y: 2 }, l: [1, 2, 3], keep: true });
    await update('remove', { update: { remove: ['a', 'm.x', 'l[0]', ['absent']] } });
    expect(await read('remove')).toStrictEqual({ pk: 'remove', m: { y: 2 }, l: [2, 3], keep: true });
  });

  it('should ADD to and DELETE from sets', async () => {
    await seed({
      pk: 'sets',
      tags: new Set(['a', 'b', 'c']),
      nums: new Set([1, 2]),
      bytes: new Set([new Uint8Array([1]), new Uint8Array([2])]),
    });
    await update('sets', {
      update: {
        delete: { tags: new Set(['a', 'c', 'z']), bytes: new Set([new Uint8Array([2])]) },
        add: { nums: new Set([3n, 2n ** 64n]), made: new Set(['z']) },
      },
    });
    expect(await read('sets')).toStrictEqual({
      pk: 'sets',
      tags: new Set(['b']),
      nums: new Set([1, 2, 3, 2n ** 64n]),
      bytes: new Set([new Uint8Array([1])]),
      made: new Set(['z']),
    });
  });

  it('should refuse what DynamoDB refuses and accept what it accepts: overlapping, conflicting and disjoint paths', async () => {
    await seed({ pk: 'overlap', n: 1, m: { x: 1 }, l: [1, 2] });
    const send = (UpdateExpression: string, names: Record<string, string>) =>
      client.send(
        new UpdateItemCommand({
          TableName,
          Key: key('overlap'),
          UpdateExpression,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: { ':v': { N: '1' } },
        }),
      );
    const cases: Array<
      [spec: Parameters<typeof compileExpressions>[0]['update'], raw: string, names: Record<string, string>, ok: boolean]
    > = [
      [{ set: { n: 1 }, remove: ['n'] }, 'SET #a = :v REMOVE #a', { '#a': 'n' }, false],
      [{ set: { 'm.x': 1 }, remove: ['m'] }, 'SET #a.#b = :v REMOVE #a', { '#a': 'm', '#b': 'x' }, false],
      [{ set: { 'l[0]': 1, 'l.x': 1 } }, 'SET #a[0] = :v, #a.#b = :v', { '#a': 'l', '#b': 'x' }, false],
      [{ set: { 'l[0]': 1 }, remove: ['l[1]'] }, 'SET #a[0] = :v REMOVE #a[1]', { '#a': 'l' }, true],
      [{ set: { 'm.x': 1 }, add: { 'm.y': 1 } }, 'SET #a.#b = :v ADD #a.#c :v', { '#a': 'm', '#b': 'x', '#c': 'y' }, true],
    ];
    for (const [spec, expression, names, ok] of cases) {
      expect(await rejection(send(expression, names))).toBe(ok ? 'passed' : 'ValidationException');
      if (ok) expect(() => compileExpressions({ update: spec })).not.toThrow();
      else expect(() => compileExpressions({ update: spec })).toThrow(/overlap|conflict/);
    }
  });

  it('should run a raw update whose placeholders are the ones a generator picks first, beside a generated condition', async () => {
    await seed({ pk: 'raw', status: 'open' });
    await update('raw', {
      update: {
        expression: 'SET #n0 = :v0, #n1 = :v1',
        names: { '#n0': 'rawName', '#n1': 'other' },
        values: { ':v0': 'raw', ':v1': 2n ** 64n },
      },
      condition: { status: 'open', rawName: { exists: false } },
    });
    expect(await read('raw')).toStrictEqual({ pk: 'raw', status: 'open', rawName: 'raw', other: 2n ** 64n });
  });

  it("should spread into the document client's UpdateCommand, which marshals the values", async () => {
    await seed({ pk: 'document', stats: { views: 2n ** 60n }, status: 'open', tags: ['a'] });
    const documents = DynamoDBDocumentClient.from(client);
    await documents.send(
      new UpdateCommand({
        TableName,
        Key: { pk: 'document' },
        ...compileExpressions({
          update: { set: { 'stats.views': increment('stats.views', 1n), tags: listAppend('tags', ['b']) }, add: { seen: new Set(['x']) } },
          condition: { status: 'open', 'stats.views': { ge: 2n ** 60n } },
        }),
      }),
    );
    expect(await read('document')).toStrictEqual({
      pk: 'document',
      stats: { views: 2n ** 60n + 1n },
      status: 'open',
      tags: ['a', 'b'],
      seen: new Set(['x']),
    });
  });

  it('should SET any value and read it back the same (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.dictionary(fc.constantFrom('a', 'status', 'name', 'x.y', 'size'), value, { minKeys: 1, maxKeys: 4 }),
        value,
        async (top, nested) => {
          await seed({ pk: 'any', m: {} });
          const set = [
            ...Object.entries(top).map(([k, v]): [string[], unknown] => [[k], v]),
            [['m', 'deep'], nested] as [string[], unknown],
          ];
          await update('any', { update: { set } });
          expect(normal(await read('any'))).toEqual(normal({ pk: 'any', ...top, m: { deep: nested } }));
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('compileExpressions on DynamoDB Local: conditions', () => {
  const ITEM = {
    pk: 'cond',
    status: 'open',
    version: 3,
    title: 'Hello world',
    tags: new Set(['x', 'y']),
    list: [1, 2, 3],
    meta: { color: 'red' },
    and: 1,
    'weird.name': 'w',
    nothing: null,
    big: 2n ** 64n,
  };
  const cases: Array<[name: string, condition: Condition, passes: boolean]> = [
    ['equality', { status: 'open' }, true],
    ['equality, failing', { status: 'closed' }, false],
    ['several keys', { status: 'open', version: 3 }, true],
    ['several keys, one failing', { status: 'open', version: 4 }, false],
    ['eq', { version: { eq: 3 } }, true],
    ['eq, failing', { version: { eq: 4 } }, false],
    ['ne', { version: { ne: 4 } }, true],
    ['ne, failing', { version: { ne: 3 } }, false],
    ['lt', { version: { lt: 4 } }, true],
    ['lt, failing', { version: { lt: 3 } }, false],
    ['le', { version: { le: 3 } }, true],
    ['le, failing', { version: { le: 2 } }, false],
    ['gt', { version: { gt: 2 } }, true],
    ['gt, failing', { version: { gt: 3 } }, false],
    ['ge', { version: { ge: 3 } }, true],
    ['ge, failing', { version: { ge: 4 } }, false],
    ['between with other clauses', { version: { between: [1, 3], ne: 2 }, status: 'open' }, true],
    ['between, failing', { version: { between: [4, 9] } }, false],
    ['in', { version: { in: [1, 2, 3] } }, true],
    ['in of 100 values', { version: { in: Array.from({ length: 100 }, (_, i) => i) } }, true],
    ['in, failing', { version: { in: [7, 8] } }, false],
    ['beginsWith', { title: { beginsWith: 'Hell' } }, true],
    ['beginsWith, failing', { title: { beginsWith: 'world' } }, false],
    ['contains in a string', { title: { contains: 'lo w' } }, true],
    ['contains in a set', { tags: { contains: 'y' } }, true],
    ['contains in a set, failing', { tags: { contains: 'z' } }, false],
    ['exists', { status: { exists: true } }, true],
    ['exists: false', { missing: { exists: false } }, true],
    ['exists: false, failing', { status: { exists: false } }, false],
    ['type N', { version: { type: 'N' } }, true],
    ['type SS', { tags: { type: 'SS' } }, true],
    ['type NULL', { nothing: { type: 'NULL' } }, true],
    ['type, failing', { version: { type: 'S' } }, false],
    ['size of a set', { tags: { size: { eq: 2 } } }, true],
    ['size of a string', { title: { size: { between: [11, 11] } } }, true],
    ['size of a list, failing', { list: { size: { gt: 3 } } }, false],
    ['size in', { list: { size: { in: [2, 3] } } }, true],
    ['attributeExists nested', { attributeExists: 'meta.color' }, true],
    ['attributeNotExists nested, failing', { attributeNotExists: 'meta.color' }, false],
    ['list element', { 'list[2]': 3 }, true],
    ['equality with a map', { meta: { color: 'red' } }, true],
    ['eq of a map, failing', { meta: { eq: { color: 'blue' } } }, false],
    ['equality with null', { nothing: null }, true],
    ['equality with a set', { tags: new Set(['y', 'x']) }, true],
    ['a bigint beyond 2^53', { big: 2n ** 64n }, true],
    ['a bigint beyond 2^53, failing', { big: { eq: 2n ** 64n + 1n } }, false],
    ['a NumberValue', { version: { lt: NumberValue.from('3.0000000000000000000000000000000000001') } }, true],
    ['or', { or: [{ status: 'closed' }, { version: 3 }] }, true],
    ['or, failing', { or: [{ status: 'closed' }, { version: 4 }] }, false],
    ['and inside or', { or: [{ status: 'closed' }, { and: [{ version: 3 }, { title: { size: { gt: 1 } } }] }] }, true],
    ['not', { not: { status: 'closed' } }, true],
    ['not, failing', { not: { status: 'open' } }, false],
    ['an attribute named and', [['and'], 1], true],
    ['an attribute named with a dot', [['weird.name'], { beginsWith: 'w' }], true],
    [
      'raw among generated',
      { and: [{ expression: '#s = :s', names: { '#s': 'status' }, values: { ':s': 'open' } }, { version: 3 }] },
      true,
    ],
    [
      'raw among generated, failing',
      { and: [{ expression: '#n0 = :v0', names: { '#n0': 'status' }, values: { ':v0': 'x' } }, { version: 3 }] },
      false,
    ],
  ];

  beforeAll(() => seed(ITEM));

  it.each(cases)('should check "%s" with UpdateItem', async (name, condition, passes) => {
    const result = await rejection(update('cond', { update: { set: { lastCase: name } }, condition }));
    expect(result).toBe(passes ? 'passed' : 'ConditionalCheckFailedException');
    const item = await read('cond');
    if (passes) expect(item?.lastCase).toBe(name);
    else expect(item?.lastCase).not.toBe(name);
  });

  it('should put only if absent with attributeNotExists', async () => {
    const put = (v: number) =>
      client.send(
        new PutItemCommand({
          TableName,
          Item: marshallItem({ pk: 'once', v }, {}),
          ...wire(compileExpressions({ condition: { attributeNotExists: 'pk' } })),
        }),
      );
    expect(await rejection(put(1))).toBe('passed');
    expect(await rejection(put(2))).toBe('ConditionalCheckFailedException');
    expect(await read('once')).toStrictEqual({ pk: 'once', v: 1 });
  });

  it('should delete only when the condition holds', async () => {
    await seed({ pk: 'delete-me', status: 'open', count: 1 });
    const del = (condition: Condition) =>
      client.send(new DeleteItemCommand({ TableName, Key: key('delete-me'), ...wire(compileExpressions({ condition })) }));
    expect(await rejection(del({ status: 'closed' }))).toBe('ConditionalCheckFailedException');
    expect(await read('delete-me')).toStrictEqual({ pk: 'delete-me', status: 'open', count: 1 });
    expect(await rejection(del({ status: 'open', count: { lt: 2 } }))).toBe('passed');
    expect(await read('delete-me')).toBeUndefined();
  });

  it('should guard a transaction with a ConditionCheck', async () => {
    await seed({ pk: 'guard', version: 3 });
    const write = (pk: string, condition: Condition) =>
      client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            {
              ConditionCheck: {
                TableName,
                Key: key('guard'),
                ...(wire(compileExpressions({ condition })) as { ConditionExpression: string }),
              },
            },
            { Put: { TableName, Item: marshallItem({ pk }, {}) } },
          ],
        }),
      );
    const failed = await write('guarded-no', { version: { gt: 3 } }).catch(
      (e: { name: string; CancellationReasons?: Array<{ Code?: string }> }) => e,
    );
    expect(failed).toMatchObject({
      name: 'TransactionCanceledException',
      CancellationReasons: [{ Code: 'ConditionalCheckFailed' }, { Code: 'None' }],
    });
    expect(await read('guarded-no')).toBeUndefined();
    await write('guarded-yes', { version: { ge: 3 }, attributeExists: 'pk' });
    expect(await read('guarded-yes')).toStrictEqual({ pk: 'guarded-yes' });
  });

  it('should share placeholders between an update and its condition (optimistic locking)', async () => {
    await seed({ pk: 'lock', version: 1, status: 'open' });
    const bump = (from: number) =>
      update('lock', { update: { set: { version: from + 1, status: 'open' } }, condition: { version: from, status: 'open' } });
    expect(await rejection(bump(1))).toBe('passed');
    expect(await rejection(bump(1))).toBe('ConditionalCheckFailedException');
    expect(await read('lock')).toStrictEqual({ pk: 'lock', version: 2, status: 'open' });
  });
});
