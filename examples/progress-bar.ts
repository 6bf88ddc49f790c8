/**
 * Watch a bulk write: a progress bar on a terminal (cli-progress), one plain line every few seconds otherwise.
 * Run DynamoDB Local (`npm run dynamodb-local`), then `npx tsx examples/progress-bar.ts`.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import cliProgress from 'cli-progress';
import { from, lastValueFrom } from 'rxjs';
import { dynamoBatchWrite, type Progress } from 'rxjs-dynamodb';
import { pathToFileURL } from 'node:url';

/** A plain-text line per interval, for logs and CI where stdout is not a terminal. */
export function progressLines(total: number, intervalMs = 2_000, write = (line: string) => console.log(line)) {
  let last = -Infinity;
  return (p: Progress) => {
    if (!p.complete && p.elapsedMs - last < intervalMs) return;
    last = p.elapsedMs;
    write(
      `${p.done}/${total} written, ${p.failed} failed, ${p.retried} retried, ${Math.round(p.ratePerSecond)}/s, concurrency ${p.concurrency}`,
    );
  };
}

export async function writeWithProgress(
  endpoint = process.env.DYNAMODB_ENDPOINT ?? 'http://127.0.0.1:8000',
  table = `Progress-${Date.now()}`,
  lines: string[] = [],
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
  const tickets = Array.from({ length: 5_000 }, (_, i) => ({ id: `ticket#${i}`, title: `Ticket ${i}` }));

  // the three lines: a bar, the operator's onProgress, and stop at the end
  const bar = new cliProgress.SingleBar({ format: '{bar} {value}/{total} {rate}/s' }, cliProgress.Presets.shades_classic);
  const onProgress = process.stdout.isTTY
    ? (p: Progress) => (p.complete ? bar.stop() : bar.update(p.done, { rate: Math.round(p.ratePerSecond) }))
    : progressLines(tickets.length, 2_000, (line) => (lines.push(line), console.log(line)));
  if (process.stdout.isTTY) bar.start(tickets.length, 0, { rate: 0 });

  await lastValueFrom(from(tickets).pipe(dynamoBatchWrite(client, table, { onProgress })));
  client.destroy();
  return lines;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await writeWithProgress();
