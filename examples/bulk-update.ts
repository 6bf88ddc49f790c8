/**
 * A bulk update: archive every resolved ticket closed before a cutoff, and count each archiving. A scan finds the
 * candidates, and `dynamoUpdate` sets `status: 'archived'` and `audit.archivedAt` and adds 1 to `archiveCount`, each
 * update under a condition that checks again, when it is written, that the ticket is still resolved and old. A ticket
 * reopened between the scan and its update is then skipped, not archived: the job shows this by reopening two tickets
 * itself, as a support agent might, and says what they hold now (`returnCurrentOnConditionFailure`). It seeds its
 * 2,000 tickets on every run, so it runs any number of times with the same outcome.
 * Run DynamoDB Local (`npm run dynamodb-local`), then `npx tsx examples/bulk-update.ts`
 * (`DYNAMODB_ENDPOINT` overrides http://127.0.0.1:8000).
 */
import { CreateTableCommand, DynamoDBClient, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { pathToFileURL } from 'node:url';
import { concatMap, from, lastValueFrom, map, of, reduce } from 'rxjs';
import { backpressure, compileExpressions, type Condition, dynamoBatchWrite, dynamoScan, dynamoUpdate } from 'rxjs-dynamodb';

export interface Ticket {
  id: string;
  title: string;
  status: 'open' | 'resolved' | 'archived';
  closedAt?: string;
  audit: { createdBy: string; archivedAt?: string };
  archiveCount?: number;
}

/** Tickets resolved before this are archived. */
export const CUTOFF = '2025-07-01T00:00:00.000Z';

/**
 * `count` tickets: every third one resolved, closed on a day of 2025; every tenth open one closed once too (it was
 * reopened since), so that only the status tells it apart from a resolved one.
 */
export function seedTickets(count = 2_000): Ticket[] {
  return Array.from({ length: count }, (_, i) => {
    const closedAt = new Date(Date.UTC(2025, 0, 1 + ((i * 37) % 365))).toISOString();
    const resolved = i % 3 === 0;
    return {
      id: `ticket#${i}`,
      title: `Ticket ${i}`,
      status: resolved ? 'resolved' : 'open',
      ...(resolved || i % 10 === 1 ? { closedAt } : {}),
      audit: { createdBy: `agent#${i % 7}` }, // `audit.archivedAt` is set inside it: a nested path needs its map
    };
  });
}

export async function bulkUpdate(
  endpoint = process.env.DYNAMODB_ENDPOINT ?? 'http://127.0.0.1:8000',
  table = 'TicketsBulkUpdate',
  reopenMeanwhile = ['ticket#3', 'ticket#42'],
) {
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
      if (error.name !== 'ResourceInUseException') throw error; // there from an earlier run: the seed below resets its tickets
    });
  await lastValueFrom(from(seedTickets()).pipe(dynamoBatchWrite(client, table)));

  // the same condition finds the tickets (as the scan's filter) and guards each update (checked again when it is written)
  const archivable: Condition = { status: 'resolved', closedAt: { lt: CUTOFF } };
  const filter = compileExpressions({ condition: archivable });
  const now = new Date().toISOString();
  const link = backpressure({ highWaterMark: 1_000 });
  const tally = await lastValueFrom(
    dynamoScan<Ticket>(
      client,
      {
        TableName: table,
        FilterExpression: filter.ConditionExpression,
        ExpressionAttributeNames: filter.ExpressionAttributeNames,
        ExpressionAttributeValues: filter.ExpressionAttributeValues,
      },
      { backpressure: link },
    ).pipe(
      // a support agent reopens a ticket after the scan read it and before its update: its condition no longer holds
      concatMap((ticket) =>
        reopenMeanwhile.includes(ticket.id) ? from(reopen(client, table, ticket.id)).pipe(map(() => ticket)) : of(ticket),
      ),
      map((ticket) => ({
        key: { id: ticket.id },
        set: { status: 'archived', 'audit.archivedAt': now },
        add: { archiveCount: 1 },
        condition: archivable,
      })),
      dynamoUpdate<{ id: string }, Ticket>(client, table, { concurrency: 16, backpressure: link, returnCurrentOnConditionFailure: true }),
      reduce(
        (t, result) => {
          if (result.status === 'written') t.written++;
          else if (result.status === 'conditionFailed') t.skipped.push({ id: result.request.key.id, status: result.current?.status });
          else {
            t.failed++;
            console.error(result.error?.message); // names the table, the key and why
          }
          return t;
        },
        { written: 0, skipped: [] as Array<{ id: string; status: string | undefined }>, failed: 0 },
      ),
    ),
  );

  tally.skipped.sort((a, b) => a.id.localeCompare(b.id, 'en', { numeric: true }));
  const why = tally.skipped.map((s) => `${s.id} is ${s.status ?? 'gone'} now`).join(', ');
  console.log(
    `archived ${tally.written} tickets, ${tally.skipped.length} skipped (changed meanwhile${why ? `: ${why}` : ''}), ${tally.failed} failed`,
  );
  client.destroy();
  return { table, archivedAt: now, ...tally };
}

/** What another agent does while the job runs. */
async function reopen(client: DynamoDBClient, table: string, id: string) {
  await client.send(
    new UpdateItemCommand({
      TableName: table,
      Key: { id: { S: id } },
      UpdateExpression: 'SET #status = :open',
      ExpressionAttributeNames: { '#status': 'status' }, // `status` is a reserved word
      ExpressionAttributeValues: { ':open': { S: 'open' } },
    }),
  );
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await bulkUpdate();
