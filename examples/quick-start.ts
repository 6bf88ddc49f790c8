/**
 * The README's quick start: write 1,000 tickets to DynamoDB Local and count them.
 * Run DynamoDB Local (`npm run dynamodb-local`), then `npx tsx examples/quick-start.ts`.
 */
import { CreateTableCommand, DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import { from, lastValueFrom, reduce } from 'rxjs';
import { dynamoBatchWrite } from 'rxjs-dynamodb';
import { pathToFileURL } from 'node:url';

export async function quickStart(endpoint = process.env.DYNAMODB_ENDPOINT ?? 'http://127.0.0.1:8000', table = 'Tickets') {
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  await client
    .send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
      }),
    )
    .catch((error: Error) => {
      if (error.name !== 'ResourceInUseException') throw error; // there from an earlier run: write the same tickets again
    });

  const tickets = Array.from({ length: 1000 }, (_, i) => ({ id: `ticket#${i}`, status: i % 3 ? 'open' : 'resolved' }));
  const written = await lastValueFrom(
    from(tickets).pipe(
      dynamoBatchWrite(client, table),
      reduce((n, result) => n + result.requests.length, 0),
    ),
  );

  const { Count } = await client.send(new ScanCommand({ TableName: table, Select: 'COUNT' }));
  console.log(`${written} tickets written, ${Count} in the table`);
  client.destroy();
  return { written, count: Count };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await quickStart();
