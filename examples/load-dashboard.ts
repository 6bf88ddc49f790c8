/**
 * The support dashboard: load 50 tickets by ID, in queue order, and tell which are gone.
 * Run DynamoDB Local (`npm run dynamodb-local`), then `npx tsx examples/load-dashboard.ts`.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { from, lastValueFrom, toArray } from 'rxjs';
import { dynamoBatchDelete, dynamoBatchWrite, dynamoLookup } from 'rxjs-dynamodb';
import { pathToFileURL } from 'node:url';

export async function loadDashboard(
  endpoint = process.env.DYNAMODB_ENDPOINT ?? 'http://127.0.0.1:8000',
  table = `Dashboard-${Date.now()}`,
) {
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    }),
  );
  const tickets = Array.from({ length: 200 }, (_, i) => ({ id: `ticket#${i}`, title: `Ticket ${i}`, priority: i % 5 }));
  await lastValueFrom(from(tickets).pipe(dynamoBatchWrite(client, table)));
  await lastValueFrom(from([{ id: 'ticket#7' }, { id: 'ticket#42' }]).pipe(dynamoBatchDelete(client, table))); // closed and purged

  // the queue, in the order the dashboard shows it
  const queue = Array.from({ length: 50 }, (_, i) => `ticket#${(i * 7) % 200}`);
  const rows = await lastValueFrom(from(queue.map((id) => ({ id }))).pipe(dynamoLookup(client, table), toArray()));

  const gone = rows.filter((row) => row.item === undefined).map((row) => row.key.id as string);
  for (const row of rows.slice(0, 5)) console.log(row.key.id, row.item ? row.item.title : '(gone)');
  console.log(`${rows.length} rows in queue order, ${gone.length} gone: ${gone.join(', ')}`);
  client.destroy();
  return { order: rows.map((row) => row.key.id as string), gone, titles: rows.map((row) => row.item?.title) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await loadDashboard();
