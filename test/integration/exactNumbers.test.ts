/**
 * Issue 8: paging over number keys that a JavaScript `number` cannot hold. Integers beyond 2^53 and
 * `12345678901234567.5` (18 significant digits, not an integer) as partition and sort keys: `scanPages` and
 * `queryPages` with a `Limit` must end, each key once — before, the next call started from a rounded key and got
 * the same `LastEvaluatedKey` for ever — and each page's `LastEvaluatedKey`, handed back as `startKey`, must resume
 * right after that page.
 */
import {
  type AttributeValue,
  BatchWriteItemCommand,
  CreateTableCommand,
  type DynamoDBClient,
  type KeySchemaElement,
} from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { lastValueFrom, type Observable, take, toArray } from 'rxjs';
import { type DynamoDBSender, type Page, dynamoQueryPages, type QueryInput, dynamoScanPages, type ScanInput } from 'rxjs-dynamodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { canonicalNumber } from '../../src/internal/numbers.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { uniqueTable } from '../helpers/tables.js';

/** 49 odd integers from 2^53 + 1 (no two of them are distinct doubles) and one decimal of 18 digits. */
const KEYS = [...Array.from({ length: 49 }, (_, i) => String(2n ** 53n + 1n + 2n * BigInt(i))), '12345678901234567.5'];
const canonical = (numbers: string[]) => numbers.map(canonicalNumber).sort();
/** At most this many pages: a source that keeps paging on the same key fails the test instead of hanging it. */
const MAX_PAGES = 30;

const all = (pages$: Observable<Page>) => lastValueFrom(pages$.pipe(take(MAX_PAGES), toArray()));
const keysOf = (pages: Page[], attribute: string) => pages.flatMap((p) => p.items.map((item) => String(item[attribute])));

/** A table with these key attributes (N, or S for `pk` when there is a sort key), and one item per key, written raw. */
async function seeded(client: DynamoDBClient, prefix: string, withSortKey: boolean): Promise<string> {
  const table = uniqueTable(prefix);
  const KeySchema: KeySchemaElement[] = withSortKey
    ? [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ]
    : [{ AttributeName: 'pk', KeyType: 'HASH' }];
  const AttributeDefinitions = withSortKey
    ? [
        { AttributeName: 'pk', AttributeType: 'S' as const },
        { AttributeName: 'sk', AttributeType: 'N' as const },
      ]
    : [{ AttributeName: 'pk', AttributeType: 'N' as const }];
  await client.send(new CreateTableCommand({ TableName: table, KeySchema, AttributeDefinitions, BillingMode: 'PAY_PER_REQUEST' }));
  const item = (k: string): Record<string, AttributeValue> => (withSortKey ? { pk: { S: 'one' }, sk: { N: k } } : { pk: { N: k } });
  for (let i = 0; i < KEYS.length; i += 25)
    await client.send(
      new BatchWriteItemCommand({ RequestItems: { [table]: KEYS.slice(i, i + 25).map((k) => ({ PutRequest: { Item: item(k) } })) } }),
    );
  return table;
}

/** Page after page, each fetched alone from the previous page's `LastEvaluatedKey` as `startKey` (a resume per page). */
async function pageByPage(pagesFrom: (startKey: Page['lastEvaluatedKey']) => Observable<Page>): Promise<Page[]> {
  const pages: Page[] = [];
  let startKey: Page['lastEvaluatedKey'];
  do {
    const [page] = await lastValueFrom(pagesFrom(startKey).pipe(take(1), toArray()));
    pages.push(page!);
    startKey = page!.lastEvaluatedKey;
  } while (startKey && pages.length < MAX_PAGES);
  return pages;
}

describe('scanPages and queryPages over number keys beyond a JavaScript number (issue 8)', () => {
  let client: DynamoDBClient;
  let scanTable: string;
  let queryTable: string;
  beforeAll(async () => {
    client = localClient(inject('dynamoEndpoint'));
    scanTable = await seeded(client, 'ExactScan', false);
    queryTable = await seeded(client, 'ExactQuery', true);
  });
  afterAll(() => client.destroy());

  const senders: [string, () => DynamoDBSender][] = [
    ['a DynamoDBClient', () => client],
    ['a DynamoDBDocumentClient', () => DynamoDBDocumentClient.from(client)],
    ['a DynamoDBDocumentClient with wrapNumbers', () => DynamoDBDocumentClient.from(client, { unmarshallOptions: { wrapNumbers: true } })],
  ];

  describe.each(senders)('through %s', (_, sender) => {
    it('should end a scanPages with a Limit, each key once', async () => {
      const input: ScanInput = { TableName: scanTable, Limit: 7 };
      const pages = await all(dynamoScanPages(sender(), input));
      expect(pages.at(-1)!.lastEvaluatedKey).toBeUndefined();
      expect(pages.length).toBeLessThanOrEqual(9); // 8 pages of up to 7, and perhaps an empty last one
      expect(canonical(keysOf(pages, 'pk'))).toEqual(canonical(KEYS));
    });

    it("should resume a scan from each page's LastEvaluatedKey right after that page", async () => {
      const pages = await pageByPage((startKey) =>
        dynamoScanPages(sender(), { TableName: scanTable, Limit: 7 }, startKey ? { startKey } : {}),
      );
      expect(pages.at(-1)!.lastEvaluatedKey).toBeUndefined();
      const seen = keysOf(pages, 'pk');
      expect(seen).toHaveLength(KEYS.length);
      expect(canonical(seen)).toEqual(canonical(KEYS));
    });

    it('should end a queryPages over such sort keys with a Limit, and resume from each page, each key once', async () => {
      const input: QueryInput = {
        TableName: queryTable,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': 'one' },
        Limit: 7,
      };
      const pages = await all(dynamoQueryPages(sender(), input));
      expect(pages.at(-1)!.lastEvaluatedKey).toBeUndefined();
      // a query reads the sort key in numeric order: the integers beyond 2^53, then 12345678901234567.5 (about 1.2e16)
      expect(keysOf(pages, 'sk').map(canonicalNumber)).toEqual(KEYS.map(canonicalNumber));
      const resumed = await pageByPage((startKey) => dynamoQueryPages(sender(), input, startKey ? { startKey } : {}));
      expect(keysOf(resumed, 'sk').map(canonicalNumber)).toEqual(keysOf(pages, 'sk').map(canonicalNumber));
    });
  });
});
