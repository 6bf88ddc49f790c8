import { CreateTableCommand, DynamoDBClient, ScanCommand, type AttributeValue, type KeySchemaElement } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { randomUUID } from 'node:crypto';

let counter = 0;
/** A table name unique to this run. */
export const uniqueTable = (prefix: string) => `${prefix}_${process.pid}_${++counter}_${randomUUID().slice(0, 8)}`;

/** Creates an on-demand table with an S partition key `pk` and, if asked, a sort key `sk` of the given type and a NEW_AND_OLD_IMAGES stream. */
export async function createTable(
  client: DynamoDBClient,
  name: string,
  options: { sortKey?: 'S' | 'N'; partitionKeyType?: 'S' | 'N' | 'B'; stream?: boolean } = {},
): Promise<string> {
  const KeySchema: KeySchemaElement[] = [{ AttributeName: 'pk', KeyType: 'HASH' }];
  const AttributeDefinitions = [{ AttributeName: 'pk', AttributeType: options.partitionKeyType ?? 'S' }];
  if (options.sortKey) {
    KeySchema.push({ AttributeName: 'sk', KeyType: 'RANGE' });
    AttributeDefinitions.push({ AttributeName: 'sk', AttributeType: options.sortKey });
  }
  const StreamSpecification = options.stream ? { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' as const } : undefined;
  await client.send(
    new CreateTableCommand({ TableName: name, KeySchema, AttributeDefinitions, BillingMode: 'PAY_PER_REQUEST', StreamSpecification }),
  );
  return name;
}

/** Every item in the table, unmarshalled: what was really written. */
export async function scanAll(client: DynamoDBClient, table: string): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey }));
    for (const item of page.Items ?? []) items.push(unmarshall(item));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

/** Every item of a table as DynamoDB holds it (AttributeValues), by its `pk` string, with string and number sets sorted (DynamoDB keeps no set order). */
export async function scanRawByPk(client: DynamoDBClient, table: string): Promise<Map<string, Record<string, AttributeValue>>> {
  const items = new Map<string, Record<string, AttributeValue>>();
  let ExclusiveStartKey: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: table, ExclusiveStartKey }));
    for (const item of page.Items ?? []) items.set(item.pk!.S!, sortedSets(item));
    ExclusiveStartKey = page.LastEvaluatedKey;
  } while (ExclusiveStartKey);
  return items;
}

const sortedSets = (item: Record<string, AttributeValue>): Record<string, AttributeValue> =>
  Object.fromEntries(
    Object.entries(item).map(([k, v]) => [k, v.SS ? { SS: [...v.SS].sort() } : v.NS ? { NS: [...v.NS].sort() } : v]),
  ) as Record<string, AttributeValue>;
