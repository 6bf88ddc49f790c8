/**
 * The archive job: delete the 1,000 resolved tickets of a 3,000-ticket table, in batches of 25 deletes. A scan with a
 * filter finds them, `dynamoBatchDelete` deletes them (only the key attributes of each scanned item are sent), and a
 * backpressure link makes the scan page only while the deletes keep up.
 * Run DynamoDB Local (`npm run dynamodb-local`), then `npx tsx examples/archive-tickets.ts`
 * (`DYNAMODB_ENDPOINT` overrides http://127.0.0.1:8000).
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { pathToFileURL } from 'node:url';
import { from, lastValueFrom, toArray } from 'rxjs';
import { backpressure, dynamoBatchDelete, dynamoBatchWrite, dynamoScan } from 'rxjs-dynamodb';

export async function archiveTickets(endpoint = process.env.DYNAMODB_ENDPOINT ?? 'http://127.0.0.1:8000', table = `Tickets-${Date.now()}`) {
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    }),
  );
  // 3,000 tickets, every third one resolved
  const tickets = Array.from({ length: 3_000 }, (_, i) => ({
    id: `ticket#${i}`,
    title: `Ticket ${i}`,
    status: i % 3 === 0 ? 'resolved' : 'open',
  }));
  await lastValueFrom(from(tickets).pipe(dynamoBatchWrite(client, table)));

  // the archive: scan the resolved tickets → delete them, 25 per BatchWriteItem call
  const link = backpressure({ highWaterMark: 1_000 });
  const batches = await lastValueFrom(
    dynamoScan(
      client,
      {
        TableName: table,
        FilterExpression: '#status = :resolved',
        ExpressionAttributeNames: { '#status': 'status' }, // `status` is a reserved word
        ExpressionAttributeValues: { ':resolved': 'resolved' },
      },
      { backpressure: link },
    ).pipe(dynamoBatchDelete(client, table, { batchSize: 25, backpressure: link }), toArray()),
  );

  const deleted = batches.reduce((n, batch) => n + batch.requests.length, 0);
  console.log(`${deleted} resolved tickets deleted from ${table} in ${batches.length} BatchWriteItem batches`);
  client.destroy();
  return { table, deleted, batchSizes: batches.map((batch) => batch.requests.length) };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await archiveTickets();
