/**
 * Whole-file import units: a file that cannot be cut into byte ranges — gzipped, CSV (a quoted field may span lines),
 * DynamoDB JSON (the data files of an export folder, each gzipped) — is one work unit, read from its start as
 * `import` reads it (`openInput` → `readRecords`: gzip undone by its magic bytes, every digit kept).
 *
 * A whole-file unit's cursor is the input line up to which every record is settled (written or dead-lettered),
 * stored as `{ line: { N: '<digits>' } }` like any other cursor: the same count `import --resume` keeps (a CSV record
 * over several lines settles at its last line; the CSV header is line 1). Run again from a cursor, the unit reads the
 * file from its start again (gzip and CSV have no other way in) and skips the records that end at or before that
 * line, so each record is written once. Its dead letters name the file and the line (`file`, `line`, `endLine` for a
 * CSV record over several lines), with the unit (`segment`) and the original text.
 */
import { statSync } from 'node:fs';
import type { StoredKey } from './checkpoint.js';
import { SettledLines } from './checkpoint.js';
import type { DeadLetterRecord } from './deadLetter.js';
import { importUnitJob, writeUnit } from './importWrite.js';
import { type InputFormat, type InputRecord, type ReadState, readRecords, recordOrigin, UnreadableInputError } from './input.js';
import { openInput } from './inputFiles.js';
import { CliError, EXIT } from './session.js';
import type { RunUnitOptions, UnitPosition, UnitResult, WorkUnit } from './units.js';

/** The formats a whole-file unit reads. */
export const FILE_FORMATS: readonly InputFormat[] = ['ndjson', 'csv', 'dynamodb-json'];

/** A dead letter of a whole-file unit: the file and the line(s) of the record. */
export type FileDeadLetter = DeadLetterRecord & { file: string; line: number };

/** The cursor of a line number, digits as text. */
export const lineCursor = (line: number): StoredKey => ({ line: { N: String(line) } });

/** The line number of a cursor; a cursor that is not one is refused, named. */
export function cursorLine(cursor: StoredKey | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  const n = (cursor.line as { N?: unknown } | undefined)?.N;
  const line = typeof n === 'string' && /^\d{1,16}$/.test(n) ? Number(n) : NaN;
  if (!Number.isSafeInteger(line))
    throw new CliError(
      `the cursor of a whole-file import unit must be { "line": { "N": "<line>" } }, got ${JSON.stringify(cursor)}`,
      EXIT.usage,
    );
  return line;
}

/** The unit's format and cursor, checked against the file this worker sees. */
function checkFileUnit(unit: WorkUnit): { format: InputFormat; cursor: number | undefined } {
  const format = unit.options.format ?? 'ndjson';
  if (!FILE_FORMATS.includes(format))
    throw new CliError(
      `import unit ${unit.segment} (${unit.from}): format must be one of ${FILE_FORMATS.join(', ')}, got ${String(format)}`,
      EXIT.usage,
    );
  let size: number;
  try {
    const stat = statSync(unit.from);
    if (!stat.isFile()) throw new Error('not a regular file');
    size = stat.size;
  } catch (error) {
    throw new CliError(
      `cannot read ${unit.from} on this worker (${(error as Error).message}): the files of an import job must be readable at the same path on every worker`,
    );
  }
  const expected = unit.options.size;
  if (expected !== undefined && size !== expected)
    throw new CliError(
      `${unit.from} is ${size} bytes on this worker but was ${expected} at submit: it changed, or another file is at that path; every worker must read the very file submitted`,
    );
  return { format, cursor: cursorLine(unit.cursor) };
}

/**
 * Runs one whole-file import unit from its cursor: the records of `unit.from` (format `unit.options.format`, gzipped
 * or not) after the cursor's line, written into `unit.to` through the same pipeline as `import` (`writeRecords`).
 * Bad records and items that fail go to `onDeadLetter` ({@link FileDeadLetter}); the cursor moves (`onCursor`) past
 * each prefix of settled records.
 *
 * @param unit A whole-file import unit (no `range`), with the cursor saved last.
 * @param options As for `runUnit`.
 * @returns How it ended, its tally (`read`: records read this run, those before the cursor not counted), and where it
 *   stands.
 */
export async function runFileUnit(unit: WorkUnit, options: RunUnitOptions): Promise<UnitResult> {
  const { format, cursor } = checkFileUnit(unit);
  const job = importUnitJob(unit);
  if (unit.done) return { outcome: 'complete', tally: job.tally, position: { done: true } };
  const start = cursor ?? 0;
  const ledger = new SettledLines(start);
  const position = (): UnitPosition =>
    ledger.line !== start || cursor !== undefined ? { cursor: lineCursor(ledger.line), done: false } : { done: false };
  const reader = openInput(unit.from);
  const read: ReadState = { lastLine: 0 };
  // the file's items from its start (those before the cursor too): what an export's manifest says it holds
  let items = 0;
  async function* counted() {
    for await (const lines of reader.lines) {
      for (const line of lines) if (line.text.trim() !== '') items++;
      yield lines;
    }
  }
  const records = readRecords(counted(), { format, skipThrough: start, state: read, source: unit.from });
  const deadLetter = (record: InputRecord | undefined, error: DeadLetterRecord['error'], item?: unknown) => {
    const letter: FileDeadLetter = {
      file: unit.from,
      line: -1,
      ...(record ? recordOrigin(record) : {}),
      segment: unit.segment,
      error,
      ...(item ? { item } : {}),
    };
    options.onDeadLetter?.(letter);
  };
  try {
    const onSettled = () => options.onCursor?.(position(), job.tally);
    const result = await writeUnit(unit, options, { job, ledger, read, records, deadLetter, onSettled, position });
    const { itemCount } = unit.options;
    // as import warns of a data file of an export that holds fewer or more items than its manifest says
    if (result.outcome === 'complete' && itemCount !== undefined && items !== itemCount)
      result.warnings = [`${unit.from} holds ${items} lines, its manifest entry says ${itemCount} items`];
    return result;
  } catch (error) {
    // a bad CSV header: the same on every run and every worker, nothing written; say so
    const why = error instanceof UnreadableInputError ? 'cannot be read' : 'stopped';
    throw new CliError(
      `import unit ${unit.segment} (${unit.from}) ${why}: ${(error as Error).message}; every record up to line ${ledger.line} is settled`,
      error instanceof UnreadableInputError ? error.exitCode : EXIT.failed,
    );
  } finally {
    reader.close();
    job.stop();
  }
}
