import { describe, expect, inject, it } from 'vitest';
import { from, lastValueFrom, toArray } from 'rxjs';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { dynamoBatchWrite } from '../../src/index.js';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';

describe('smoke', () => {
  it('should write 1000 items', async () => {
    const client = localClient(inject('dynamoEndpoint'));
    const table = await createTable(client, uniqueTable('Smoke'));
    const items = Array.from({ length: 1000 }, (_, i) => ({ pk: `t#${i}`, n: i }));
    const results = await lastValueFrom(from(items).pipe(dynamoBatchWrite(client, table), toArray()));
    expect(results.length).toBe(40);
    expect((await scanAll(client, table)).length).toBe(1000);
    const doc = DynamoDBDocumentClient.from(client);
    const r2 = await lastValueFrom(from(items.map((i) => ({ ...i, n: -i.n }))).pipe(dynamoBatchWrite(doc, table), toArray()));
    expect(r2.flatMap((r) => r.requests).length).toBe(1000);
  });
});
