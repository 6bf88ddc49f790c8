/**
 * Where what could not be written goes, so that nothing is lost: one JSON line per failed item or bad input line,
 * appended (synchronously, before any checkpoint moves past it) to `--dead-letter FILE`, or to a file named after
 * the job, made on the first failure. Each line holds where it came from (`line`, `segment`), the error
 * (`name`, `code`, `message`) and the item (`item`) or the raw input (`text`).
 */
import { appendFileSync } from 'node:fs';

/** One dead letter. */
export interface DeadLetterRecord {
  /** Input line (first line of a CSV record) for import. */
  line?: number;
  /** Scan segment for copy and delete. */
  segment?: number;
  error: { name?: string; code?: string; message: string };
  /** The item (or, for delete, the item whose key was to be deleted). */
  item?: unknown;
  /** The raw input line, when it could not be read as an item. */
  text?: string;
}

/** How many bad-input messages go to stderr before the rest are only counted. */
const MAX_MESSAGES = 20;

const BIG = '\u0000bigint:';

/** Serializes what JSON alone cannot: sets as arrays, binary as base64, big integers (marked, see {@link toJsonLine}). */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Set) return [...value];
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (typeof value === 'bigint') return `${BIG}${value}`;
  return value;
}

/** One JSON line of a value; integers beyond 2^53 (bigints from the SDK) are written as exact JSON numbers. */
export function toJsonLine(value: unknown): string {
  return JSON.stringify(value, jsonReplacer).replace(/"\\u0000bigint:(-?\d+)"/g, '$1');
}

/** An error as the dead-letter file and `--json` show it. */
export function describeError(error: unknown): DeadLetterRecord['error'] {
  const e = error as { name?: string; code?: string; message?: string; cause?: { name?: string; message?: string } };
  const message = e?.message ?? String(error);
  const cause = e?.cause?.name && !message.includes(e.cause.name) ? ` (${e.cause.name}: ${e.cause.message})` : '';
  return { ...(e?.name ? { name: e.name } : {}), ...(typeof e?.code === 'string' ? { code: e.code } : {}), message: message + cause };
}

/** The dead-letter file of a job, and the messages about bad input on stderr. */
export class DeadLetter {
  /** Records written. */
  count = 0;
  private messages = 0;
  readonly path: string;

  /** With `dryRun`, nothing is written: records are only counted and told on stderr. */
  constructor(
    path: string | undefined,
    job: string,
    private readonly dryRun = false,
  ) {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    this.path = path ?? `rxjs-dynamodb-${job}-${stamp}.dead-letter.ndjson`;
  }

  /** Appends a record (the file is made on the first), and tells stderr, the first few times. */
  write(record: DeadLetterRecord): void {
    if (!this.dryRun) appendFileSync(this.path, `${toJsonLine(record)}\n`);
    this.count++;
    const where = record.line !== undefined ? `line ${record.line}: ` : record.segment !== undefined ? `segment ${record.segment}: ` : '';
    this.message(`${where}${record.error.message}`);
  }

  /** A message on stderr, unless too many were printed already. */
  message(text: string): void {
    if (++this.messages <= MAX_MESSAGES) process.stderr.write(`${text}\n`);
    else if (this.messages === MAX_MESSAGES + 1)
      process.stderr.write(this.dryRun ? '… more problems (counted in the plan)\n' : `… more problems; every one is in ${this.path}\n`);
  }
}
