/**
 * `rxjs-dynamodb import <file|dir|-> --table T`: NDJSON, CSV (a `.csv` file) or DynamoDB JSON (the folder of a
 * DynamoDB export to S3), or what `--format` says, gzipped or not, into a table,
 * through `fromAsyncIterable` → `dynamoBatchWrite` with one backpressure link, so memory stays flat for any file.
 * Bad lines and failed items go to the dead-letter file with their line numbers; every valid line is written.
 * With `--resume`, the checkpoint is the input line up to which everything is settled: a rerun skips those lines,
 * so nothing before it is written twice.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fromAsyncIterable } from '../index.js';
import { CheckpointFile, SettledLines } from './checkpoint.js';
import { writeRecords } from './importWrite.js';
import {
  countLines,
  type InputFormat,
  type InputRecord,
  type ReadState,
  readRecords,
  recordOrigin,
  UnreadableInputError,
} from './input.js';
import { defaultFormat, openInput } from './inputFiles.js';
import { Job, type Outcome } from './job.js';
import type { CommonOptions, WriteOptions } from './options.js';
import { Plan, checkItem } from './plan.js';
import { CliError, EXIT, runToEnd, type Session, withSession } from './session.js';
import { tableKey, type TableKey, targetKey } from './table.js';
import { announceTarget } from './target.js';

export interface ImportOptions extends CommonOptions, WriteOptions {
  table: string;
  /** @default `dynamodb-json` for an export folder, `csv` for a `.csv` (`.csv.gz`) file, else `ndjson` */
  format?: InputFormat;
  /** Create the table (on-demand, with `--key`) if it does not exist. */
  createTable?: boolean;
}

/** The checkpoint of an import: every item of lines 1 to `line` is settled. */
interface ImportCheckpoint {
  command: 'import';
  table: string;
  input: string;
  format: InputFormat;
  line: number;
  complete: boolean;
}

/** Runs `import`; resolves to the exit code. */
export async function importCommand(file: string, options: ImportOptions): Promise<number> {
  const { table } = options;
  const format = options.format ?? defaultFormat(file);
  if (file !== '-' && !existsSync(file)) throw new CliError(`cannot read ${file}: no such file`);
  const input = file === '-' ? '-' : resolve(file);
  const checkpoint = options.resume ? new CheckpointFile<ImportCheckpoint>(options.resume) : undefined;
  const found = checkpoint?.read('import', (s) =>
    s.table !== table ? `table ${s.table}` : s.input !== input ? `input ${s.input}` : undefined,
  );
  const start = found?.line ?? 0;
  if (found) process.stderr.write(`import: resuming after line ${start} (checkpoint ${checkpoint!.path})\n`);

  return withSession(options, async (session) => {
    if (!options.dryRun) await announceTarget(session, options, `write items to table ${table}`, [table]);
    const key = options.dryRun
      ? await tableKey(session.client, table, options.key, { signal: session.signal })
      : await targetKey(session.client, table, { key: options.key, create: options.createTable, signal: session.signal, checkpoint });
    const job = new Job('import', options, `import-${table}`, session.meter);
    const reader = openInput(file);
    const total = options.progress !== false && process.stderr.isTTY && reader.countable ? await countLines(file) : undefined;
    const read: ReadState = { lastLine: 0 };
    const records = readRecords(reader.lines, { format, skipThrough: start, state: read, guessed: !options.format, source: file });
    const extra = () => ({ table, input: file, format, lines: read.lastLine, resumedFromLine: start });
    try {
      if (options.dryRun) {
        job.report(total, 'lines', () => read.lastLine);
        const plan = new Plan();
        const outcome = await runToEnd(fromAsyncIterable(records), session.signal, (record) => {
          job.tally.read = read.lastLine;
          const check = record.error === undefined ? checkItem(record.item, key) : { problem: record.error, size: 0 };
          if (check.problem === undefined) plan.add(check.size);
          else {
            plan.invalid++;
            job.deadLetter.write({ ...recordOrigin(record), error: { message: check.problem } });
          }
          job.update();
        });
        job.stop();
        const summary = { command: 'import', dryRun: true, ok: plan.invalid === 0, ...extra(), ...plan.summary() };
        if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
        else process.stdout.write(`${plan.describe(`import ${file} (${format}) into ${table}`)}\n`);
        return outcome === 'interrupted' ? EXIT.interrupted : plan.invalid > 0 ? EXIT.notAllWritten : EXIT.ok;
      }
      const outcome = await write(session, job, records, read, key, { table, input, format, start, total, checkpoint });
      return job.finish(outcome, `items written to ${table}`, extra(), checkpoint?.path);
    } finally {
      reader.close();
      job.stop();
    }
  });
}

/** The import itself: records → (bad ones to the dead-letter file) → dynamoBatchWrite (`writeRecords`), with the line checkpoint. */
async function write(
  session: Session,
  job: Job,
  records: AsyncIterable<InputRecord>,
  read: ReadState,
  key: TableKey,
  at: {
    table: string;
    input: string;
    format: InputFormat;
    start: number;
    total?: number;
    checkpoint?: CheckpointFile<ImportCheckpoint>;
  },
): Promise<Outcome> {
  const { table, input, format, checkpoint } = at;
  const lines = new SettledLines(at.start);
  job.report(at.total, 'lines', () => lines.line);
  const save = (complete = false) => checkpoint?.update({ command: 'import', table, input, format, line: lines.line, complete });
  try {
    const outcome = await writeRecords(records, {
      client: session.client,
      table,
      job,
      key: key.names,
      ledger: lines,
      read,
      signal: session.signal,
      onRecord: () => (job.tally.read = read.lastLine),
      deadLetter: (record, error, item) =>
        job.deadLetter.write({ ...(record ? recordOrigin(record) : {}), error, ...(item ? { item } : {}) }),
      onSettled: () => save(),
    });
    if (outcome === 'complete') save(true);
    return outcome;
  } catch (error) {
    if (error instanceof UnreadableInputError) throw error; // a bad CSV header, …: stopped before any item, nothing to resume
    throw new CliError(
      `import stopped: ${(error as Error).message}; everything up to line ${lines.line} is settled${
        checkpoint ? ` — rerun with --resume ${checkpoint.path} to go on` : ''
      }`,
    );
  } finally {
    checkpoint?.flush();
  }
}
