/**
 * Import units: one large NDJSON file (plain, not gzipped) cut into byte ranges, each a work unit. A unit owns every
 * line that starts in its range `[start, end)` — the first line of the file starts at 0, any other right after a LF
 * — so every line belongs to exactly one unit, whatever bytes the boundaries fall on (inside a line, inside a UTF-8
 * character): a unit skips the tail of the line it starts in, and reads past its end to finish its last line.
 *
 * A unit's cursor is the byte offset of its first line not yet settled (written or dead-lettered), stored as
 * `{ offset: { N: '<digits>' } }` like any other cursor; it moves only past settled lines, in order, so a unit run
 * again from its cursor writes nothing before it again. Line numbers are not known inside a range: a dead letter
 * names its line by `offset`, the byte offset of the line's first byte in the file (`tail -c +$((offset + 1)) FILE |
 * head -n 1` shows it), with the file, the unit (`segment`) and the line's original text.
 *
 * Its records are written through the one write pipeline of `import` (`writeRecords`, importWrite.ts).
 */
import { createReadStream, statSync } from 'node:fs';
import type { Item } from '../index.js';
import { SettledLines, type StoredKey } from './checkpoint.js';
import type { DeadLetterRecord } from './deadLetter.js';
import { type InputRecord, type ReadState, readRecords } from './input.js';
import { type RawLine, rawLine } from './inputFiles.js';
import { importUnitJob, writeUnit } from './importWrite.js';
import { CliError, EXIT } from './session.js';
import type { RunUnitOptions, UnitPosition, UnitResult, WorkUnit } from './units.js';

/** Bytes `[start, end)` of a file. */
export interface ByteRange {
  start: number;
  end: number;
}

/** A dead letter of an import unit: the line's byte offset instead of its number. */
export type ImportDeadLetter = DeadLetterRecord & { file: string; offset: number };

/** `units` ranges of about equal size that together cover `size` bytes, in order. */
export function byteRanges(size: number, units: number): ByteRange[] {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`size must be an integer >= 0, got ${size}`);
  if (!Number.isInteger(units) || units < 1 || units > 1_000_000)
    throw new RangeError(`units must be an integer from 1 to 1000000, got ${units}`);
  // in bigint: size * i may pass 2^53
  const at = (i: number) => Number((BigInt(size) * BigInt(i)) / BigInt(units));
  return Array.from({ length: units }, (_, i) => ({ start: at(i), end: at(i + 1) }));
}

/** The cursor of a byte offset, digits as text. */
export const offsetCursor = (offset: number): StoredKey => ({ offset: { N: String(offset) } });

/** The byte offset of a cursor; a cursor that is not one is refused, named. */
export function cursorOffset(cursor: StoredKey | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  const n = (cursor.offset as { N?: unknown } | undefined)?.N;
  const offset = typeof n === 'string' && /^\d{1,16}$/.test(n) ? Number(n) : NaN;
  if (!Number.isSafeInteger(offset))
    throw new CliError(`the cursor of an import unit must be { "offset": { "N": "<bytes>" } }, got ${JSON.stringify(cursor)}`, EXIT.usage);
  return offset;
}

/** One line a unit owns: a `RawLine` whose `n` is the offset right after it (the next line's start), and its own start. */
export interface OwnedLine extends RawLine {
  readonly start: number;
}

const owned = (bytes: Buffer, start: number, next: number, newline: boolean): OwnedLine => ({
  ...rawLine(bytes, next, newline, start === 0),
  start,
});

/**
 * The lines of `path` that start in `range`, a batch per chunk read: from `cursor` (a line start) when given, else
 * from the range's first line start. The last one is read to its end, past `range.end` if need be.
 *
 * @param chunkBytes The read size (small ones in tests, to cut lines and characters across chunks).
 */
export async function* rangeLines(path: string, range: ByteRange, cursor?: number, chunkBytes = 64 * 1024): AsyncGenerator<OwnedLine[]> {
  const { end } = range;
  // without a cursor, a range that does not start the file starts at its first line start: after the first LF at or
  // after start - 1 (a LF at start - 1 ends the line before, and the range starts a line itself)
  let skip = cursor === undefined && range.start > 0;
  const from = cursor ?? (skip ? range.start - 1 : 0);
  if (!skip && from >= end) return;
  const stream = createReadStream(path, { start: from, highWaterMark: chunkBytes });
  let pos = from; // the file offset of the chunk's first byte
  let lineStart = from; // the file offset of the line being read
  let pieces: Buffer[] = []; // the line's bytes from earlier chunks
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      const batch: OwnedLine[] = [];
      let at = 0;
      for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, at)) {
        const next = pos + nl + 1;
        if (skip)
          skip = false; // the tail of the line the unit before owns
        else {
          const bytes = pieces.length > 0 ? Buffer.concat([...pieces, chunk.subarray(at, nl)]) : chunk.subarray(at, nl);
          batch.push(owned(bytes, lineStart, next, true));
        }
        pieces = [];
        lineStart = next;
        at = nl + 1;
        if (lineStart >= end) {
          // the next line starts in the next unit's range
          if (batch.length > 0) yield batch;
          return;
        }
      }
      if (!skip && at < chunk.length) pieces.push(chunk.subarray(at));
      pos += chunk.length;
      if (batch.length > 0) yield batch;
    }
    // a last line without a LF
    if (pieces.length > 0) yield [owned(Buffer.concat(pieces), lineStart, pos, false)];
  } finally {
    stream.destroy();
  }
}

/** The unit's range and cursor, checked against the file this worker sees. */
function checkUnit(unit: WorkUnit): { range: ByteRange; cursor: number | undefined } {
  const { range } = unit;
  if (!range || !Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start)
    throw new CliError(`an import unit needs range { start, end } with 0 <= start <= end, got ${JSON.stringify(range)}`, EXIT.usage);
  let size: number;
  try {
    size = statSync(unit.from).size;
  } catch (error) {
    throw new CliError(
      `cannot read ${unit.from} on this worker (${(error as Error).message}): the file of an import job must be readable at the same path on every worker`,
    );
  }
  const expected = unit.options.size;
  if (expected !== undefined && size !== expected)
    throw new CliError(
      `${unit.from} is ${size} bytes on this worker but was ${expected} at submit: it changed, or another file is at that path; every worker must read the very file submitted`,
    );
  const cursor = cursorOffset(unit.cursor);
  if (cursor !== undefined && cursor < range.start)
    throw new CliError(`unit ${unit.segment}'s cursor ${cursor} is before its range [${range.start}, ${range.end})`, EXIT.usage);
  return { range, cursor };
}

/**
 * Runs one import unit from its cursor: the lines of `unit.from` that start in `unit.range`, parsed as `import`
 * parses NDJSON (every digit kept), written into `unit.to` with `dynamoBatchWrite`. Bad lines and items that fail go
 * to `onDeadLetter` ({@link ImportDeadLetter}); the cursor moves (`onCursor`) past each prefix of settled lines.
 *
 * @param unit An import unit (`makeUnits` of an import job), with the cursor saved last.
 * @param options As for `runUnit`.
 * @returns How it ended, its tally (`read`: lines with an item or an error), and where it stands.
 */
export async function runImportUnit(unit: WorkUnit, options: RunUnitOptions): Promise<UnitResult> {
  const { range, cursor } = checkUnit(unit);
  const job = importUnitJob(unit);
  if (unit.done) return { outcome: 'complete', tally: job.tally, position: { done: true } };
  // the ledger counts in byte offsets: each line's span is the offset after it, so `ledger.line` is the cursor
  const initial = cursor ?? range.start;
  const ledger = new SettledLines(initial);
  const position = (): UnitPosition =>
    ledger.line !== initial || cursor !== undefined ? { cursor: offsetCursor(ledger.line), done: false } : { done: false };
  /** The start of each line read and not yet passed by the cursor, by the offset after it. */
  const starts = new Map<number, number>();
  async function* tracked(): AsyncGenerator<OwnedLine[]> {
    for await (const batch of rangeLines(unit.from, range, cursor)) {
      for (const line of batch) starts.set(line.n, line.start);
      yield batch;
    }
  }
  const read: ReadState = { lastLine: initial };
  const records = readRecords(tracked(), { format: 'ndjson', skipThrough: 0, state: read, source: unit.from });
  const deadLetter = (record: InputRecord | undefined, error: DeadLetterRecord['error'], item?: Item) => {
    const letter: ImportDeadLetter = {
      file: unit.from,
      offset: record ? starts.get(record.line)! : -1,
      segment: unit.segment,
      error,
      ...(record?.text !== undefined ? { text: record.text } : {}),
      ...(record?.base64 !== undefined ? { base64: record.base64 } : {}),
      ...(item ? { item } : {}),
    };
    options.onDeadLetter?.(letter);
  };
  const settled = () => {
    for (const end of starts.keys()) {
      if (end > ledger.line) break;
      starts.delete(end);
    }
    options.onCursor?.(position(), job.tally);
  };
  try {
    return await writeUnit(unit, options, { job, ledger, read, records, deadLetter, onSettled: settled, position });
  } catch (error) {
    throw new CliError(
      `import unit ${unit.segment} stopped: ${(error as Error).message}; every line before byte ${ledger.line} of its range is settled`,
    );
  } finally {
    job.stop();
  }
}
