/**
 * Import an NDJSON file (one JSON object per line) into a table, with memory that stays flat: the file is read a
 * line at a time, and only while fewer than 5,000 lines read are not yet written. Nothing is lost: a malformed line
 * (not JSON, not an object) and an item DynamoDB's rules reject (no key, over 400 KB, …) go to a dead-letter NDJSON
 * file, one `{ line, error, raw }` per line, and every other line is written.
 *
 * Run DynamoDB Local (`npm run dynamodb-local`), then `npx tsx examples/import-ndjson.ts [tickets.ndjson]`
 * (without a file, it imports a sample file with two bad lines; `DYNAMODB_ENDPOINT` overrides http://127.0.0.1:8000).
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { finalize, lastValueFrom, map, reduce, tap } from 'rxjs';
import { backpressure, dynamoBatchWrite, fromAsyncIterable, type Item } from 'rxjs-dynamodb';

/** What the dead-letter file holds, one per line: the line number in the input file, why, and the line as it was. */
export interface DeadLetter {
  line: number;
  error: string;
  raw: string;
}

type ParsedLine = { line: number; raw: string; item: Item } | { line: number; raw: string; error: string };

/** A line of the file as an item, or why it is not one. */
function parseLine(raw: string, line: number): ParsedLine {
  try {
    const value: unknown = JSON.parse(raw);
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return { line, raw, error: `NotAnObject: line ${line} is JSON but not an object` };
    return { line, raw, item: value as Item };
  } catch (error) {
    return { line, raw, error: `${(error as Error).name}: ${(error as Error).message}` };
  }
}

/** `code: message` for the toolkit's errors (`request.missingKey: …`), `name: message` for others. */
const describe = (error: unknown) => {
  const e = error as { code?: string; name?: string; message?: string };
  return `${e.code ?? e.name ?? 'Error'}: ${e.message ?? String(error)}`;
};

export async function importNdjson(
  endpoint = process.env.DYNAMODB_ENDPOINT ?? 'http://127.0.0.1:8000',
  options: { file?: string; deadLetterFile?: string; table?: string } = {},
) {
  const client = new DynamoDBClient({ endpoint, region: 'local', credentials: { accessKeyId: 'x', secretAccessKey: 'x' } });
  const table = options.table ?? `Imported-${Date.now()}`;
  const file = options.file ?? (await sampleFile());
  const deadLetterFile = options.deadLetterFile ?? `${file}.dead-letter.ndjson`;
  await client.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
    }),
  );

  const deadLetters = createWriteStream(deadLetterFile);
  let deadLettered = 0;
  const deadLetter = (entry: DeadLetter) => {
    deadLettered++;
    deadLetters.write(`${JSON.stringify(entry)}\n`);
  };
  // where each item came from, to dead-letter a failed write with its line (weak: an item written is forgotten)
  const origin = new WeakMap<Item, { line: number; raw: string }>();

  // the import: lines → parse (bad lines to the dead-letter file) → write (failed items to the dead-letter file)
  const link = backpressure({ highWaterMark: 5_000 });
  const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
  let read = 0;
  const written = await lastValueFrom(
    fromAsyncIterable(lines, { backpressure: link }).pipe(
      finalize(() => lines.close()), // readline is not closed by the iterator's return(): close it on the way out
      map((raw) => parseLine(raw, ++read)),
      tap((parsed) => 'error' in parsed && parsed.raw.trim() !== '' && deadLetter(parsed)), // blank lines are skipped
      link.filter((parsed) => 'item' in parsed), // a line dropped here is released from the link, or the file would stall
      map((parsed) => {
        const { item, line, raw } = parsed as Extract<ParsedLine, { item: Item }>;
        origin.set(item, { line, raw });
        return item;
      }),
      dynamoBatchWrite(client, table, { onFailure: 'emit', backpressure: link }),
      tap((result) => {
        // each failed request with its own error; a request refused before any call has the reason as its cause
        for (const { request, error } of result.failures ?? []) {
          const source = 'put' in request ? origin.get(request.put) : undefined;
          deadLetter({ line: source?.line ?? 0, error: describe(error.cause ?? error), raw: source?.raw ?? JSON.stringify(request) });
        }
      }),
      reduce((n, result) => n + result.requests.length, 0),
    ),
    { defaultValue: 0 },
  );
  deadLetters.end();
  await once(deadLetters, 'finish');

  console.log(`${read} lines read from ${file}: ${written} items written to ${table}, ${deadLettered} to ${deadLetterFile}`);
  client.destroy();
  return { table, lines: read, written, deadLettered, deadLetterFile };
}

/** A sample input: 1,000 tickets, a line that is not JSON and one with no `id`. */
async function sampleFile(): Promise<string> {
  const file = join(await mkdtemp(join(tmpdir(), 'import-ndjson-')), 'tickets.ndjson');
  const lines = Array.from({ length: 1_000 }, (_, i) => JSON.stringify({ id: `ticket#${i}`, title: `Ticket ${i}`, status: 'open' }));
  lines.splice(10, 0, '{"id": "ticket#broken", "title": ');
  lines.splice(20, 0, JSON.stringify({ title: 'A ticket with no id' }));
  await writeFile(file, `${lines.join('\n')}\n`);
  return file;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await importNdjson(undefined, { file: process.argv[2] });
