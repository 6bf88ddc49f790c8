/**
 * CSV (RFC 4180) for `import`, in linear time. A {@link CsvSplitter} finds where each record ends — at a line end
 * outside quotes — looking at each character once, so every record knows its first and last line; csv-parse then
 * reads the record's fields and says what is wrong with a malformed one.
 *
 * Lines end with LF or CRLF; a CR alone is data (RFC 4180 allows it only inside quotes; csv-parse would take the
 * first one it meets for the file's line end). A field in double quotes may hold commas, line breaks and `""`. A
 * quote that opens a field and is not closed within {@link MAX_RECORD_CHARS} or by the end of the input is taken
 * for a stray: its line is refused alone and the lines after it are read again, so one bad quote costs one line.
 */
import { parse } from 'csv-parse/sync';
import { exactNumber, numberProblem } from '../internal/numbers.js';
import type { Item } from '../index.js';
import type { RawLine } from './inputFiles.js';
import { parseJsonValue } from './json.js';

/** The lines of one CSV record; `unclosed` when it is one line whose opening quote was never closed. */
export interface CsvChunk {
  lines: RawLine[];
  unclosed?: 'end' | 'size';
}

/**
 * The longest record (in characters) whose quoted field may go on: no item of 400 KB needs more, even with every
 * quote doubled and every character escaped in a JSON column.
 */
export const MAX_RECORD_CHARS = 4 * 1024 * 1024;

/** Whether the text leaves a quoted field open, given whether it starts inside one. Each character is looked at once. */
export function endsQuoted(text: string, quoted: boolean): boolean {
  let i = 0;
  let fieldStart = !quoted;
  while (i < text.length) {
    if (quoted) {
      const quote = text.indexOf('"', i);
      if (quote < 0) return true;
      if (text.charCodeAt(quote + 1) === 34)
        i = quote + 2; // "" inside quotes
      else {
        quoted = false;
        fieldStart = false;
        i = quote + 1;
      }
    } else if (fieldStart && text.charCodeAt(i) === 34) {
      quoted = true;
      i++;
    } else {
      // an unquoted field (a quote in it is malformed, but opens nothing): on to the next comma
      const comma = text.indexOf(',', i);
      if (comma < 0) return false;
      fieldStart = true;
      i = comma + 1;
    }
  }
  return quoted;
}

/** Groups lines into CSV records. `push` each line, then `end()`; each hands out the records it completed. */
export class CsvSplitter {
  private open: RawLine[] = [];
  private quoted = false;
  private chars = 0;

  constructor(private readonly maxChars = MAX_RECORD_CHARS) {}

  push(line: RawLine): CsvChunk[] {
    const out: CsvChunk[] = [];
    this.take([line], out);
    return out;
  }

  end(): CsvChunk[] {
    const out: CsvChunk[] = [];
    while (this.open.length > 0) this.take(this.recover('end', out), out);
    return out;
  }

  /** Reads lines into records; a record over the size limit is recovered from and its later lines read again (a loop, not recursion). */
  private take(lines: RawLine[], out: CsvChunk[]): void {
    let queue = lines;
    for (let i = 0; i < queue.length;) {
      const line = queue[i++]!;
      this.open.push(line);
      this.chars += line.text.length + line.eol.length;
      this.quoted = endsQuoted(line.text, this.quoted);
      if (!this.quoted) {
        out.push({ lines: this.open });
        this.open = [];
        this.chars = 0;
      } else if (this.chars > this.maxChars) {
        queue = this.recover('size', out).concat(queue.slice(i));
        i = 0;
      }
    }
  }

  /** The open record's first line alone is refused; returns the lines after it, to be read again. */
  private recover(why: 'end' | 'size', out: CsvChunk[]): RawLine[] {
    const [first, ...rest] = this.open;
    this.open = [];
    this.quoted = false;
    this.chars = 0;
    out.push({ lines: [first!], unclosed: why });
    return rest;
  }
}

/** The text of a record's lines, with the line ends between them. */
export const chunkText = (lines: RawLine[]) =>
  lines.length === 1 ? lines[0]!.text : lines.map((l, i) => (i < lines.length - 1 ? l.text + l.eol : l.text)).join('');

/** The original bytes of a record's lines, invalid UTF-8 included. */
export const chunkBytes = (lines: RawLine[]) =>
  Buffer.concat(lines.map((l, i) => Buffer.concat([l.bytes ?? Buffer.from(l.text), Buffer.from(i < lines.length - 1 ? l.eol : '')])));

/** One record's text to csv-parse: its line end is given, so that it does not guess one (and a CR alone stays data). */
const PLAIN = { record_delimiter: '\n' };
/** The same, telling an empty unquoted field (null: no value) from a quoted `""` (the empty string); twice as slow. */
const TELLING_EMPTY = {
  ...PLAIN,
  cast: (value: string, context: { quoting: boolean }) => (context.quoting ? value : value === '' ? null : value),
};

function parseRecord(text: string, options: typeof PLAIN): Array<string | null> {
  let records: unknown[][];
  try {
    records = parse(text, options) as unknown[][];
  } catch (error) {
    // csv-parse counts lines within the record it was given; ours are in the message's prefix
    throw new Error((error as Error).message.replace(/ at line \d+/, '').replace(/ \(if activated\)/, ''));
  }
  if (records.length !== 1) throw new Error(`reads as ${records.length} records`);
  return records[0] as Array<string | null>;
}

/** The fields of one record's text (no line end after it); `null` is an empty unquoted field. Throws csv-parse's complaint. */
export function csvFields(text: string): Array<string | null> {
  // most records hold no quote at all: their fields are the text between commas
  if (!text.includes('"')) return text.split(',').map((f) => (f === '' ? null : f));
  const fields = parseRecord(text, PLAIN);
  if (!fields.includes('')) return fields;
  // an empty field is a quoted "" only if the text holds one
  return text.includes('""') ? parseRecord(text, TELLING_EMPTY) : fields.map((f) => (f === '' ? null : f));
}

/** A column of the header: `name`, or `name:TYPE`. */
export interface Column {
  name: string;
  type: 'S' | 'N' | 'BOOL' | 'JSON';
}

/** Header names with their types (`id:N`); throws what is wrong with the header. */
export function csvColumns(header: Array<string | null>): Column[] {
  const columns = header.map((field, i): Column => {
    const match = /^(.*):(S|N|BOOL|JSON)$/.exec(field ?? '');
    const column: Column = match ? { name: match[1]!, type: match[2] as Column['type'] } : { name: field ?? '', type: 'S' };
    if (!column.name) throw new Error(`column ${i + 1} has no name`);
    if (/[\r\n]/.test(column.name))
      throw new Error(
        `column ${i + 1} has a line break in its name ${JSON.stringify(column.name)}; lines must end with LF or CRLF (a CR alone is not a line end)`,
      );
    return column;
  });
  const names = columns.map((c) => c.name);
  const repeated = names.find((n, i) => names.indexOf(n) !== i);
  if (repeated !== undefined) throw new Error(`column ${repeated} appears twice`);
  return columns;
}

/** A record's fields as an item, by the header's columns; throws what is wrong, naming the column. */
export function csvItem(fields: Array<string | null>, columns: Column[]): Item {
  if (fields.length !== columns.length) throw new Error(`has ${fields.length} fields, the header has ${columns.length}`);
  const item: Item = {};
  for (let i = 0; i < columns.length; i++) {
    const { name, type } = columns[i]!;
    const value = fields[i];
    if (value === null || value === undefined) continue;
    let v: unknown;
    if (type === 'S') v = value;
    else if (type === 'N') {
      const problem = numberProblem(value);
      if (problem) throw new Error(`column ${name}: ${problem}`);
      v = exactNumber(value);
    } else if (type === 'BOOL') {
      if (!/^(true|false)$/i.test(value)) throw new Error(`column ${name}: ${JSON.stringify(value)} is not true or false`);
      v = value.toLowerCase() === 'true';
    } else {
      try {
        v = parseJsonValue(value, name);
      } catch (error) {
        throw new Error(`column ${name}: ${(error as Error).message}`);
      }
    }
    // a column named __proto__ is an ordinary attribute
    Object.defineProperty(item, name, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return item;
}
