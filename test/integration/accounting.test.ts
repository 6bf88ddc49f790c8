import { BatchWriteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { from, lastValueFrom, tap, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BatchWriteError, type DynamoDBSender, dynamoBatchWrite, type WriteRequest } from 'rxjs-dynamodb';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';

let client: DynamoDBClient;
beforeAll(() => {
  client = localClient(inject('dynamoEndpoint'));
});
afterAll(() => client.destroy());

/**
 * A sender in front of DynamoDB Local that answers each BatchWriteItem 5–40 ms late and never writes the `poisoned`
 * keys: it sends the rest, and returns those as unprocessed, as DynamoDB would under throttling.
 */
function poisoning(real: DynamoDBClient, poisoned: (pk: string) => boolean, random: () => number): DynamoDBSender {
  return {
    async send(command: unknown, options?: { abortSignal?: AbortSignal }) {
      if (!(command instanceof BatchWriteItemCommand)) return real.send(command as never, options);
      await new Promise((resolve) => setTimeout(resolve, 5 + random() * 35));
      const forward: Record<string, unknown[]> = {};
      const held: Record<string, unknown[]> = {};
      for (const [table, list] of Object.entries(command.input.RequestItems ?? {}))
        for (const r of list) {
          const pk = r.PutRequest?.Item?.pk?.S ?? '';
          ((poisoned(pk) ? held : forward)[table] ??= []).push(r);
        }
      if (Object.keys(forward).length > 0) await real.send(new BatchWriteItemCommand({ RequestItems: forward as never }), options);
      return { UnprocessedItems: held, $metadata: {} };
    },
  };
}

const pk = (r: WriteRequest) => ('put' in r ? (r.put.pk as string) : '');

describe("exact accounting in 'error' mode (issue 9)", () => {
  it('should end every request taken either written or in unprocessed, never both, over many runs under load', async () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    for (let run = 0; run < 8; run++) {
      const table = await createTable(client, uniqueTable('Accounting'));
      const items = Array.from({ length: 1_500 }, (_, i) => ({ pk: `a#${run}#${i}`, n: i }));
      // a few keys, spread over the stream, always come back unprocessed
      const poisoned = new Set(items.filter((_, i) => i % 211 === 17).map((i) => i.pk));
      const sender = poisoning(client, (k) => poisoned.has(k), random);
      const written: WriteRequest[] = [];
      const error = await lastValueFrom(
        from(items).pipe(
          dynamoBatchWrite(sender, table, { concurrency: 8, maxAttempts: 2, backoff: { baseDelayMs: 1, maxDelayMs: 5 } }),
          tap((result) => written.push(...result.requests)),
          toArray(),
        ),
      ).then(
        () => undefined,
        (e: unknown) => e as BatchWriteError,
      );

      expect(error).toBeInstanceOf(BatchWriteError);
      expect(error!.code).toBe('batchWrite.attemptsExhausted');
      const writtenKeys = new Set(written.map(pk));
      const unprocessedKeys = new Set(error!.unprocessed.map(pk));
      // the table holds exactly what the results say was written
      const inTable = new Set((await scanAll(client, table)).map((i) => i.pk as string));
      expect(inTable).toEqual(writtenKeys);
      // nothing both written and handed back; nothing handed back is in the table
      expect([...unprocessedKeys].filter((k) => writtenKeys.has(k))).toEqual([]);
      expect(written).toHaveLength(writtenKeys.size);
      // every request taken from the source is in one or the other: a prefix of the input, in order
      const taken = written.length + error!.unprocessed.length;
      expect(new Set([...writtenKeys, ...unprocessedKeys])).toEqual(new Set(items.slice(0, taken).map((i) => i.pk)));
      expect(error!.unprocessed.map(pk)).toEqual(items.map((i) => i.pk).filter((k) => unprocessedKeys.has(k)));
      // at least the poisoned key that stopped the stream is handed back
      expect([...poisoned].some((k) => unprocessedKeys.has(k))).toBe(true);
    }
  });
});
