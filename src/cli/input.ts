/**
 * `import`'s input: NDJSON (one JSON object per line) or CSV with a header row, read line by line, each item with
 * the input line(s) it came from. A line that is not an item (bad JSON, not an object, a CSV row with the wrong
 * number of fields) comes out as a record with an `error`, so the import can dead-letter it and go on.
 *
 * CSV (RFC 4180): fields separated by commas; a field in double quotes may hold commas, line breaks and `""` (a
 * quote). Values are strings; an empty unquoted field leaves the attribute out (a quoted `""` is the empty string).
 * A header name may end in a type: `id:N` (number), `done:BOOL` (true/false), `tags:JSON` (any JSON value), `name:S`.
 */
import { createReadStream } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import type { Item } from '../index.js';
import type { LineSpan } from './checkpoint.js';

/** One item, or one bad record, with the lines it spans. */
export interface InputRecord extends LineSpan {
  item?: Item;
  /** Why the lines are not an item. */
  error?: string;
  /** The raw lines, for the dead-letter file, when they are not an item. */
  text?: string;
}

/** How far the reader got: the last line number read. */
export interface ReadState {
  lastLine: number;
}

/** The lines of a file, or of stdin for `-`, and a way to stop reading. */
export function openLines(file: string): { lines: Interface; close(): void } {
  const input = file === '-' ? process.stdin : createReadStream(file);
  const lines = createInterface({ input, crlfDelay: Infinity });
  return {
    lines,
    close: () => {
      lines.close();
      input.destroy();
    },
  };
}

/** Fields of one CSV record, or `undefined` when the text ends inside a quoted field (the record goes on). `null` is an empty unquoted field. */
export function parseCsvRecord(text: string): Array<string | null> | undefined {
  const fields: Array<string | null> = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      i++;
      for (;;) {
        const quote = text.indexOf('"', i);
        if (quote < 0) return undefined;
        value += text.slice(i, quote);
        if (text[quote + 1] === '"') {
          value += '"';
          i = quote + 2;
        } else {
          i = quote + 1;
          break;
        }
      }
      if (i < text.length && text[i] !== ',')
        throw new Error(`unexpected ${JSON.stringify(text[i])} after a closing quote (column ${fields.length + 1})`);
      fields.push(value);
    } else {
      const comma = text.indexOf(',', i);
      const value = text.slice(i, comma < 0 ? text.length : comma);
      fields.push(value === '' ? null : value);
      i = comma < 0 ? text.length : comma;
    }
    if (i >= text.length) return fields;
    i++; // the comma
    if (i === text.length) {
      fields.push(null);
      return fields;
    }
  }
}

type Column = { name: string; type: 'S' | 'N' | 'BOOL' | 'JSON' };

/** Header names with their types (`id:N`). */
export function csvColumns(header: Array<string | null>): Column[] {
  const columns = header.map((field, i): Column => {
    const match = /^(.*):(S|N|BOOL|JSON)$/.exec(field ?? '');
    const column: Column = match ? { name: match[1]!, type: match[2] as Column['type'] } : { name: field ?? '', type: 'S' };
    if (!column.name) throw new Error(`CSV header: column ${i + 1} has no name`);
    return column;
  });
  const names = columns.map((c) => c.name);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated !== undefined) throw new Error(`CSV header: column ${repeated} appears twice`);
  return columns;
}

function csvItem(fields: Array<string | null>, columns: Column[]): Item {
  if (fields.length !== columns.length) throw new Error(`has ${fields.length} fields, the header has ${columns.length}`);
  const item: Item = {};
  columns.forEach(({ name, type }, i) => {
    const value = fields[i];
    if (value === null || value === undefined) return;
    if (type === 'S') item[name] = value;
    else if (type === 'N') {
      const n = Number(value);
      if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`column ${name}: ${JSON.stringify(value)} is not a number`);
      item[name] = n;
    } else if (type === 'BOOL') {
      if (!/^(true|false)$/i.test(value)) throw new Error(`column ${name}: ${JSON.stringify(value)} is not true or false`);
      item[name] = value.toLowerCase() === 'true';
    } else {
      try {
        item[name] = JSON.parse(value);
      } catch (error) {
        throw new Error(`column ${name}: not JSON (${(error as Error).message})`);
      }
    }
  });
  return item;
}

function jsonItem(text: string): Item {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`malformed JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error(`not a JSON object: ${text.slice(0, 60)}`);
  return value as Item;
}

/**
 * The records of the input, in order. Lines up to `skipThrough` (a checkpoint) are read but not parsed — the CSV
 * header excepted. Blank lines are skipped. `state.lastLine` follows the reading.
 */
export async function* readRecords(
  lines: AsyncIterable<string>,
  format: 'ndjson' | 'csv',
  skipThrough: number,
  state: ReadState,
): AsyncGenerator<InputRecord> {
  let n = 0;
  let columns: Column[] | undefined;
  let pending: { line: number; text: string } | undefined;
  for await (const raw of lines) {
    state.lastLine = ++n;
    const text = n === 1 ? raw.replace(/^\uFEFF/, '') : raw; // a byte-order mark
    if (format === 'ndjson') {
      if (n <= skipThrough || text.trim() === '') continue;
      try {
        yield { line: n, endLine: n, item: jsonItem(text) };
      } catch (error) {
        yield { line: n, endLine: n, error: (error as Error).message, text };
      }
      continue;
    }
    // CSV: a record may span lines (a quoted field with line breaks)
    if (columns && n <= skipThrough) continue;
    const record = pending ? { line: pending.line, text: `${pending.text}\n${text}` } : { line: n, text };
    if (!pending && text === '') continue;
    let fields: Array<string | null> | undefined;
    try {
      fields = parseCsvRecord(record.text);
    } catch (error) {
      pending = undefined;
      if (!columns) throw new Error(`line ${record.line}: CSV header: ${(error as Error).message}`);
      yield { line: record.line, endLine: n, error: `CSV: ${(error as Error).message}`, text: record.text };
      continue;
    }
    if (!fields) {
      pending = record;
      continue;
    }
    pending = undefined;
    if (!columns) {
      columns = csvColumns(fields);
      continue;
    }
    try {
      yield { line: record.line, endLine: n, item: csvItem(fields, columns) };
    } catch (error) {
      yield { line: record.line, endLine: n, error: `CSV: ${(error as Error).message}`, text: record.text };
    }
  }
  if (pending) yield { line: pending.line, endLine: n, error: 'CSV: the file ends inside a quoted field', text: pending.text };
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
