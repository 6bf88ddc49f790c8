import { type AttributeValue, type DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  dynamoBatchGet,
  dynamoBatchWrite,
  dynamoLookup,
  type Item,
  itemSize,
  MAX_ITEM_BYTES,
  dynamoScan,
  dynamoScanPages,
} from 'rxjs-dynamodb';
import { marshallItem } from '../../src/internal/marshal.js';
import { canonicalNumber } from '../../src/internal/numbers.js';
import { item as arbitraryItem, normal } from '../helpers/arbitraries.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, uniqueTable } from '../helpers/tables.js';

let client: DynamoDBClient;
beforeAll(() => {
  client = localClient(inject('dynamoEndpoint'));
});
afterAll(() => client.destroy());

const all = <T>(values$: import('rxjs').Observable<T>) => lastValueFrom(values$.pipe(toArray()), { defaultValue: [] as T[] });
const byPk = (items: Item[]) => new Map(items.map((i) => [String(i.pk), i]));

/** What real tables hold: 64-bit ids, long decimals, 38-digit numbers, tiny and huge exponents, sets, binary, non-BMP text. */
const everyType: Item[] = [
  {
    pk: 'every#1',
    id64: 18446744073709551615n,
    negative64: -9223372036854775808n,
    decimal: NumberValue.from('0.12345678901234567890123'),
    digits38: NumberValue.from('12345678901234567890123456789012345678'),
    tiny: NumberValue.from('1E-130'),
    huge: NumberValue.from('9.9999999999999999999999999999999999999E+125'),
    beyondDouble: NumberValue.from('12345678901234567.5'),
    plain: 42,
    half: -0.5,
    text: 'ünïcødé 🦄𝄞',
    empty: '',
    bytes: new Uint8Array([0, 255, 1, 254]),
    emptyBytes: new Uint8Array(0),
    flag: false,
    nothing: null,
    ss: new Set(['a', '🦄', '']),
    ns: new Set([1, 18446744073709551615n, NumberValue.from('1.0000000000000000000001')]),
    bs: new Set([new Uint8Array([1]), new Uint8Array([2, 3])]),
    list: [1, 'x', [NumberValue.from('3.14159265358979323846264338327950288')], { deep: new Set(['y']) }],
    map: { nested: { id: 9007199254740993n, bytes: new Uint8Array([7]) }, __proto__x: 1 },
  },
];

describe('exact values through the toolkit on DynamoDB Local (issue 8)', () => {
  it('should write, scan and batch-get every type back exactly, with a DynamoDBClient and a DynamoDBDocumentClient', async () => {
    for (const sender of [client, DynamoDBDocumentClient.from(client)]) {
      const table = await createTable(client, uniqueTable('EveryType'));
      await all(from(everyType).pipe(dynamoBatchWrite(sender, table)));
      const scanned = await all(dynamoScan(sender, { TableName: table }));
      expect(normal(scanned)).toEqual(normal(everyType));
      const got = await all(from([{ pk: 'every#1' }]).pipe(dynamoBatchGet(sender, table)));
      expect(normal(got)).toEqual(normal(everyType));
      // and written again from what was read, it is the same item
      const copy = await createTable(client, uniqueTable('EveryTypeCopy'));
      await all(from(scanned).pipe(dynamoBatchWrite(sender, copy)));
      expect(normal(await all(dynamoScan(client, { TableName: copy })))).toEqual(normal(everyType));
    }
  });

  it('should page through keys that differ only beyond the 17th digit, each key once (scanPages with a Limit)', async () => {
    const table = await createTable(client, uniqueTable('NKeys'), { partitionKeyType: 'N' });
    const keys = Array.from({ length: 50 }, (_, i) => NumberValue.from(`1.${'0'.repeat(19)}${String(i + 1).padStart(2, '0')}`));
    await all(from(keys.map((pk) => ({ pk, v: 1 }))).pipe(dynamoBatchWrite(client, table)));
    const pages = await all(dynamoScanPages(client, { TableName: table, Limit: 7 }));
    expect(pages.length).toBeLessThanOrEqual(9);
    const seen = pages.flatMap((p) => p.items.map((i) => canonicalNumber(String(i.pk))));
    expect(new Set(seen).size).toBe(50);
    expect(seen.sort()).toEqual(keys.map((k) => canonicalNumber(String(k))).sort());
    // the last key of a page, handed back as startKey, resumes right after it
    const resumed = await all(dynamoScanPages(client, { TableName: table, Limit: 7 }, { startKey: pages[2]!.lastEvaluatedKey }));
    expect(resumed.flatMap((p) => p.items).length).toBe(50 - pages.slice(0, 3).reduce((n, p) => n + p.items.length, 0));
    // lookups by those keys find every item
    const found = await all(from(keys.map((pk) => ({ pk }))).pipe(dynamoLookup(client, table)));
    expect(found.every((f) => f.item !== undefined)).toBe(true);
  });

  it('should read back what it writes for random items of every type (property)', async () => {
    const table = await createTable(client, uniqueTable('Property'));
    await fc.assert(
      fc.asyncProperty(fc.array(arbitraryItem(), { minLength: 1, maxLength: 30 }), async (items) => {
        const unique = [...byPk(items).values()];
        await all(from(unique).pipe(dynamoBatchWrite(client, table)));
        const got = await all(from(unique.map((i) => ({ pk: i.pk }))).pipe(dynamoBatchGet(client, table)));
        const back = byPk(got);
        for (const written of unique) expect(normal(back.get(String(written.pk)))).toEqual(normal(written));
      }),
      { numRuns: 40 },
    );
  });

  it('should size items exactly: at itemSize 409,600 DynamoDB takes the item, one byte more it refuses (property)', async () => {
    const table = await createTable(client, uniqueTable('ItemSize'));
    const put = (item: Item) =>
      client.send(new PutItemCommand({ TableName: table, Item: marshallItem(item, {}) as Record<string, AttributeValue> })).then(
        () => 'ok',
        (error: Error) =>
          error.name === 'ValidationException' && /size/.test(error.message) ? 'too large' : `${error.name}: ${error.message}`,
      );
    await fc.assert(
      fc.asyncProperty(arbitraryItem(), async (random) => {
        const item = { ...random, pad: '' };
        const padding = MAX_ITEM_BYTES - itemSize(item);
        expect(await put({ ...item, pad: 'x'.repeat(padding) })).toBe('ok');
        expect(await put({ ...item, pad: 'x'.repeat(padding + 1) })).toBe('too large');
      }),
      { numRuns: 60 },
    );
  });
});
