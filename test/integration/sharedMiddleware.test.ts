/**
 * The prepared-body middlewares live once on an SDK client's own stack (not on every command's): they must leave the
 * client's other commands alone, not be added twice (a document client made from the client shares or clones its
 * stack), and still work for commands sent through a wrapper of the client.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { BatchWriteItemCommand, type DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, NumberValue, PutCommand } from '@aws-sdk/lib-dynamodb';
import { from, lastValueFrom, toArray } from 'rxjs';
import { dynamoBatchGet, dynamoBatchWrite, dynamoPut, dynamoUpdate, type DynamoDBSender } from 'rxjs-dynamodb';
import { localClient } from '../helpers/dynamoLocal.js';
import { createTable, scanAll, uniqueTable } from '../helpers/tables.js';

let client: DynamoDBClient;
beforeAll(() => {
  client = localClient(inject('dynamoEndpoint'));
});
afterAll(() => client.destroy());

const names = (sender: { middlewareStack: { identify(): string[] } }) =>
  sender.middlewareStack.identify().filter((entry) => entry.startsWith('rxjsDynamodb'));

describe('the prepared-body middlewares on a client', () => {
  it("should be added once, and leave the client's own commands as the SDK sends them", async () => {
    const table = await createTable(client, uniqueTable('SharedStack'));
    const big = '12345678901234567890123456789012345678';
    const items = [
      { pk: 'a', n: NumberValue.from(big), s: new Set(['x', 'y']), b: new Uint8Array([0, 255]), t: 'emoji \u{1F600}' },
      { pk: 'b', n: 1 },
    ];
    for (let round = 0; round < 2; round++) {
      await lastValueFrom(from(items).pipe(dynamoBatchWrite(client, table), toArray()));
      await lastValueFrom(from([{ key: { pk: 'b' }, add: { n: 1 } }]).pipe(dynamoUpdate(client, table), toArray()));
      await lastValueFrom(from([{ pk: 'a' }]).pipe(dynamoBatchGet(client, table), toArray()));
    }
    // one of each, on the client's stack, however many operators and calls
    expect(names(client as never).sort()).toEqual([
      'rxjsDynamodbParsedOutput - deserialize',
      'rxjsDynamodbPreparedBody - build',
      'rxjsDynamodbPreparedInput - initialize',
    ]);
    // the client's own commands: serialized and parsed by the SDK as ever
    await client.send(new PutItemCommand({ TableName: table, Item: { pk: { S: 'c' }, n: { N: big }, l: { L: [{ S: 'q' }] } } }));
    await client.send(
      new BatchWriteItemCommand({ RequestItems: { [table]: [{ PutRequest: { Item: { pk: { S: 'd' }, ns: { NS: ['1', '2'] } } } }] } }),
    );
    await client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { pk: { S: 'c' } },
        UpdateExpression: 'SET #m = :m',
        ExpressionAttributeNames: { '#m': 'm' },
        ExpressionAttributeValues: { ':m': { M: { deep: { B: new Uint8Array([7]) } } } },
      }),
    );
    const c = await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'c' } }, ConsistentRead: true }));
    expect(c.Item).toEqual({ pk: { S: 'c' }, n: { N: big }, l: { L: [{ S: 'q' }] }, m: { M: { deep: { B: new Uint8Array([7]) } } } });
    const b = await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'b' } }, ConsistentRead: true }));
    // (each round puts b back to 1, then adds 1)
    expect(b.Item?.n).toEqual({ N: '2' });
    expect((await scanAll(client, table)).map((i) => i.pk).sort()).toEqual(['a', 'b', 'c', 'd']);
  });

  it('should work through a document client made after the client got them, and through a wrapper of it', async () => {
    const table = await createTable(client, uniqueTable('SharedStackDoc'));
    await lastValueFrom(from([{ item: { pk: 'first' } }]).pipe(dynamoPut(client, table), toArray()));
    const doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    const wrapper: DynamoDBSender = { send: (command, options) => doc.send(command as never, options) };
    for (const sender of [doc, wrapper]) {
      const results = await lastValueFrom(
        from([{ key: { pk: 'k' }, add: { n: 1 }, set: { at: '\u{1F680}' } }]).pipe(dynamoUpdate(sender, table), toArray()),
      );
      expect(results.map((r) => r.status)).toEqual(['written']);
    }
    expect(names(doc as never).length).toBe(3);
    // the document client's own commands still marshal and unmarshal
    await doc.send(new PutCommand({ TableName: table, Item: { pk: 'own', list: [1, 'two'], none: undefined } }));
    expect((await doc.send(new GetCommand({ TableName: table, Key: { pk: 'own' }, ConsistentRead: true }))).Item).toEqual({
      pk: 'own',
      list: [1, 'two'],
    });
    const k = await client.send(new GetItemCommand({ TableName: table, Key: { pk: { S: 'k' } }, ConsistentRead: true }));
    expect(k.Item).toEqual({ pk: { S: 'k' }, n: { N: '2' }, at: { S: '\u{1F680}' } });
  });
});
