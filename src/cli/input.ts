/**
 * `import`'s records: NDJSON (one JSON object per line), DynamoDB JSON (one `{"Item": {...}}` per line, as DynamoDB's
 * export to S3 writes it) or CSV with a header row, each item with the input line(s) it came from and their original
 * text. Numbers keep every digit (see json.ts). A line that is not an item — bad JSON, not an object, a number
 * DynamoDB cannot hold, not UTF-8, a CSV row with the wrong number of fields — comes out as a record with an `error`
 * (and, when not UTF-8, its bytes), so the import can dead-letter it and go on.
 *
 * CSV (RFC 4180, see csv.ts): values are strings; an empty unquoted field leaves the attribute out (a quoted `""` is
 * the empty string). A header name may end in a type: `id:N` (a number, DynamoDB's syntax, every digit kept),
 * `done:BOOL` (true/false), `tags:JSON` (any JSON value), `name:S`.
 */
import { createReadStream } from 'node:fs';
import type { Item } from '../index.js';
import type { LineSpan } from './checkpoint.js';
import { chunkBytes, chunkText, type Column, csvColumns, csvFields, csvItem, type CsvChunk, CsvSplitter, MAX_RECORD_CHARS } from './csv.js';
import { looksLikeDynamoJson, parseDynamoJsonItem } from './dynamoJson.js';
import type { RawLine } from './inputFiles.js';
import { parseJsonItem } from './json.js';
import { CliError, EXIT } from './session.js';

/** The formats `import` reads. */
export type InputFormat = 'ndjson' | 'csv' | 'dynamodb-json';

/** One item, or one bad record, with the lines it spans. */
export interface InputRecord extends LineSpan {
  item?: Item;
  /** Why the lines are not an item. */
  error?: string;
  /** The original text of the lines (for the dead-letter file). */
  text?: string;
  /** The original bytes, base64, when the lines are not valid UTF-8. */
  base64?: string;
  /** For an export folder: the data file and the line within it. */
  file?: string;
  fileLine?: number;
}

/** The input cannot be read as asked (a bad CSV header, DynamoDB JSON read as NDJSON): the job stops before any item. */
export class UnreadableInputError extends CliError {}

/** How far the reader got: the last line number read. */
export interface ReadState {
  lastLine: number;
}

/** How to read. */
export interface ReadOptions {
  format: InputFormat;
  /** Lines up to this one (a checkpoint) are read but not parsed — the CSV header excepted. */
  skipThrough: number;
  state: ReadState;
  /** The format was not given: NDJSON that looks like DynamoDB JSON is refused, so that `{"Item": …}` is not imported as it is. */
  guessed?: boolean;
  /** The input's name, for messages. */
  source?: string;
}

const NOT_UTF8 = 'not valid UTF-8 (the original bytes are in the dead-letter file, base64)';

/** Where a record's lines are, and their original text (bytes too, when not UTF-8). */
function origin(lines: RawLine[]): InputRecord {
  const first = lines[0]!;
  const record: InputRecord = { line: first.n, endLine: lines[lines.length - 1]!.n, text: chunkText(lines) };
  if (first.file !== undefined) Object.assign(record, { file: first.file, fileLine: first.fileLine });
  if (lines.some((l) => l.bytes)) Object.assign(record, { error: NOT_UTF8, base64: chunkBytes(lines).toString('base64') });
  return record;
}

/** The records of NDJSON or DynamoDB JSON: one per non-blank line. */
async function* jsonRecords(lines: AsyncIterable<RawLine[]>, options: ReadOptions): AsyncGenerator<InputRecord> {
  const { format, skipThrough, state, guessed } = options;
  const parse = format === 'dynamodb-json' ? parseDynamoJsonItem : parseJsonItem;
  let first = true;
  for await (const batch of lines) {
    for (const line of batch) {
      state.lastLine = line.n;
      if (line.n <= skipThrough || line.text.trim() === '') continue;
      const record = origin([line]);
      if (record.error === undefined) {
        try {
          record.item = parse(line.text) as Item;
        } catch (error) {
          record.error = (error as Error).message;
        }
      }
      if (first && guessed && record.item && looksLikeDynamoJson(record.item))
        throw new UnreadableInputError(
          `${options.source ?? 'the input'} line ${line.n} looks like DynamoDB JSON ({"Item": {"…": {"S": …}}}): pass --format dynamodb-json to import it as such, or --format ndjson to import each line as it is`,
          EXIT.usage,
        );
      first = false;
      yield record;
    }
  }
}

/** The records of CSV: a header, then one record per row (a quoted field may span lines). */
async function* csvRecords(lines: AsyncIterable<RawLine[]>, options: ReadOptions): AsyncGenerator<InputRecord> {
  const { skipThrough, state } = options;
  const splitter = new CsvSplitter();
  let columns: Column[] | undefined;
  const badHeader = (chunk: CsvChunk, why: string) =>
    new UnreadableInputError(
      `${options.source ?? 'the input'}: the CSV header (line ${chunk.lines[0]!.n}) is bad: ${why}; nothing was imported — fix the header and run again`,
      EXIT.notAllWritten, // bad input (1, as bad lines give), not a job that failed (3): no write was tried
    );
  const record = (chunk: CsvChunk): InputRecord | undefined => {
    if (chunk.lines.length === 1 && !chunk.unclosed && chunk.lines[0]!.text === '') return undefined; // a blank line
    if (!columns) {
      if (chunk.unclosed) throw badHeader(chunk, 'a quote opens a field and is never closed');
      if (chunk.lines.some((l) => l.bytes)) throw badHeader(chunk, 'it is not valid UTF-8');
      try {
        columns = csvColumns(csvFields(chunkText(chunk.lines)));
      } catch (error) {
        throw badHeader(chunk, (error as Error).message);
      }
      return undefined;
    }
    if (chunk.lines[chunk.lines.length - 1]!.n <= skipThrough) return undefined;
    const out = origin(chunk.lines);
    if (out.error !== undefined) return out;
    if (chunk.unclosed) {
      const where = chunk.unclosed === 'end' ? 'by the end of the input' : `within ${MAX_RECORD_CHARS} characters`;
      out.error = `CSV: a quote opens a field on this line and is not closed ${where}; this line is refused and the lines after it are read on`;
      return out;
    }
    try {
      out.item = csvItem(csvFields(out.text!), columns);
    } catch (error) {
      out.error = `CSV: ${(error as Error).message}`;
    }
    return out;
  };
  for await (const batch of lines) {
    for (const line of batch) {
      state.lastLine = line.n;
      for (const chunk of splitter.push(line)) {
        const r = record(chunk);
        if (r) yield r;
      }
    }
  }
  for (const chunk of splitter.end()) {
    const r = record(chunk);
    if (r) yield r;
  }
}

/** The records of the input, in order; blank lines are skipped. `options.state.lastLine` follows the reading. */
export function readRecords(lines: AsyncIterable<RawLine[]>, options: ReadOptions): AsyncGenerator<InputRecord> {
  return options.format === 'csv' ? csvRecords(lines, options) : jsonRecords(lines, options);
}

/** Lines in a file (for the progress bar's total): the newlines, plus one for a last line without one. */
export async function countLines(file: string): Promise<number> {
  let lines = 0;
  let last = 10;
  for await (const chunk of createReadStream(file) as AsyncIterable<Buffer>) {
    for (let i = chunk.indexOf(10); i >= 0; i = chunk.indexOf(10, i + 1)) lines++;
    if (chunk.length > 0) last = chunk[chunk.length - 1]!;
  }
  return last === 10 ? lines : lines + 1;
}

/** What the dead-letter file keeps of a record: where it was, and its original text (and bytes, when not UTF-8). */
export function recordOrigin(record: InputRecord): {
  line: number;
  endLine?: number;
  text?: string;
  base64?: string;
  file?: string;
  fileLine?: number;
} {
  return {
    line: record.line,
    ...(record.endLine > record.line ? { endLine: record.endLine } : {}),
    ...(record.file !== undefined ? { file: record.file, fileLine: record.fileLine } : {}),
    ...(record.text !== undefined ? { text: record.text } : {}),
    ...(record.base64 !== undefined ? { base64: record.base64 } : {}),
  };
}
