/**
 * A streaming ETL job with validation: rows exported from a legacy help desk are read one at a time (a generator,
 * as a file or a socket would be), validated and transformed into tickets; the good ones are written, and every bad
 * row goes to a dead-letter stream (an RxJS `Subject`) with the reason — here logged and collected, in a real job
 * written to a file or a queue. Rows that fail to be written go to the same stream.
 * Run DynamoDB Local (`npm run dynamodb-local`), then `npx tsx examples/etl-transform.ts`
 * (`DYNAMODB_ENDPOINT` overrides http://127.0.0.1:8000).
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { pathToFileURL } from 'node:url';
import { finalize, lastValueFrom, map, reduce, Subject, tap, toArray } from 'rxjs';
import { backpressure, dynamoBatchWrite, fromAsyncIterable } from 'rxjs-dynamodb';

/** A row as the legacy system exports it. */
export type LegacyRow = { ticket_no: string; queue: string; state: string; opened: string; subject: string };
/** The ticket it becomes. */
export type Ticket = { id: string; queue: string; status: 'open' | 'resolved'; openedAt: string; title: string };
/** A row that did not make it, and why. */
export type DeadLetter = { stage: 'validate' | 'write'; row: LegacyRow | Ticket; reason: string };

const STATES: Record<string, Ticket['status']> = { O: 'open', R: 'resolved' };

/** Validates a legacy row and transforms it into a ticket, or says what is wrong with it. */
export function transform(row: LegacyRow): Ticket | { reason: string } {
  if (!/^\d+$/.test(row.ticket_no)) return { reason: `ticket_no ${JSON.stringify(row.ticket_no)} is not a number` };
  const status = STATES[row.state];
  if (!status) return { reason: `unknown state ${JSON.stringify(row.state)} (expected O or R)` };
  const [, dd, mm, yyyy] = /^(\d{2})\/(\d{2})\/(\d{4})$/.exec(row.opened) ?? [];
  const opened = new Date(`${yyyy}-${mm}-${dd}T00:00:00Z`);
  if (!dd || Number.isNaN(opened.getTime()) || opened.getUTCDate() !== Number(dd))
    return { reason: `opened ${JSON.stringify(row.opened)} is not a DD/MM/YYYY date` };
  const title = row.subject.trim();
  if (title === '') return { reason: 'subject is empty' };
  return {
    id: `T-${row.ticket_no.padStart(6, '0')}`,
    queue: row.queue.trim().toLowerCase(),
    status,
    openedAt: opened.toISOString(),
    title,
  };
}

/** `count` legacy rows, some of them bad: every 97th has no subject, every 89th (from 5) the 31st of February, every 113th (from 7) state X. */
export function* legacyRows(count = 2_000): Generator<LegacyRow> {
  const queues = [' Billing', 'HARDWARE ', 'network'];
  for (let i = 0; i < count; i++) {
    yield {
      ticket_no: String(i + 1),
      queue: queues[i % queues.length]!,
      state: i % 113 === 7 ? 'X' : i % 4 === 0 ? 'R' : 'O',
      opened: i % 89 === 5 ? '31/02/2026' : `${String((i % 28) + 1).padStart(2, '0')}/${String((i % 12) + 1).padStart(2, '0')}/2025`,
      subject: i % 97 === 0 ? '  ' : `Subject of ticket ${i + 1}`,
    };
  }
}

export async function etlTransform(
  endpoint = process.env.DYNAMODB_ENDPOINT ?? 'http://127.0.0.1:8000',
  table = `Tickets-${Date.now()}`,
  rows: Iterable<LegacyRow> = legacyRows(),
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

  // the dead-letter stream: whoever needs the bad rows subscribes (a file, a queue, a report)
  const deadLetters = new Subject<DeadLetter>();
  const collected = lastValueFrom(deadLetters.pipe(toArray()));

  // the job: read → validate and transform → bad rows to the dead-letter stream → good rows written
  const link = backpressure({ highWaterMark: 1_000 });
  const written = await lastValueFrom(
    fromAsyncIterable(rows, { backpressure: link }).pipe(
      map((row) => ({ row, result: transform(row) })),
      tap(({ row, result }) => 'reason' in result && deadLetters.next({ stage: 'validate', row, reason: result.reason })),
      link.filter(({ result }) => !('reason' in result)), // a row dropped here is released from the link
      map(({ result }) => result as Ticket),
      dynamoBatchWrite(client, table, { onFailure: 'emit', backpressure: link }),
      tap((batch) => {
        for (const { request, error } of batch.failures ?? [])
          if ('put' in request) deadLetters.next({ stage: 'write', row: request.put as Ticket, reason: String(error.cause ?? error) });
      }),
      reduce((n, batch) => n + batch.requests.length, 0),
      finalize(() => deadLetters.complete()),
    ),
    { defaultValue: 0 },
  );
  const rejected = await collected;

  console.log(`${written} tickets written to ${table}, ${rejected.length} rows to the dead-letter stream, the first ones:`);
  for (const { stage, row, reason } of rejected.slice(0, 3))
    console.log(`  ${stage}: ${reason.slice(0, 100)}: ${JSON.stringify(row).slice(0, 100)}`);
  client.destroy();
  return { table, written, deadLetters: rejected };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await etlTransform();
