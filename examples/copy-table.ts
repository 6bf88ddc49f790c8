/**
 * Copy a table into another, transforming each item on the way, with memory that stays flat: the scan asks for
 * its next page only while the writer has fewer than 5,000 items not yet written.
 * Run DynamoDB Local (`npm run dynamodb-local`), then `npx tsx examples/copy-table.ts`.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { from, lastValueFrom, map, reduce } from 'rxjs';
import { backpressure, dynamoBatchWrite, dynamoScan } from 'rxjs-dynamodb';
import { pathToFileURL } from 'node:url';

const createTable = (client: DynamoDBClient, TableName: string) =>
  client.send(
    new CreateTableCommand({
      TableName,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    }),
  );

export async function copyTable(endpoint = process.env.DYNAMODB_ENDPOINT ?? 'http://127.0.0.1:8000', suffix = `${Date.now()}`) {
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const [source, target] = [`Tickets-${suffix}`, `TicketsV2-${suffix}`];
  await createTable(client, source);
  await createTable(client, target);
  const tickets = Array.from({ length: 3_000 }, (_, i) => ({
    id: `ticket#${i}`,
    title: `Printer ${i} is on fire`,
    status: i % 4 ? 'open' : 'resolved',
  }));
  await lastValueFrom(from(tickets).pipe(dynamoBatchWrite(client, source)), { defaultValue: undefined });

  // the copy: scan → transform → write, one link between the two ends
  const link = backpressure({ highWaterMark: 5_000 });
  const copied = await lastValueFrom(
    dynamoScan(client, { TableName: source }, { backpressure: link }).pipe(
      map((ticket) => ({ ...ticket, title: String(ticket.title).toUpperCase(), schema: 2 })),
      dynamoBatchWrite(client, target, { backpressure: link }),
      reduce((n, result) => n + result.requests.length, 0),
    ),
  );
  console.log(`${copied} tickets copied from ${source} to ${target}`);
  client.destroy();
  return { source, target, copied };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await copyTable();
