/**
 * Where what could not be written goes, so that nothing is lost: one JSON line per failed item or bad input line,
 * appended (synchronously, before any checkpoint moves past it) to `--dead-letter FILE`, or to a file named after
 * the job, made on the first failure. Each line holds where it came from (`line`, `segment`), the error
 * (`name`, `code`, `message`) and the item (`item`, numbers with all their digits) and, for import, the original
 * input (`text`; `base64` of the bytes when they are not UTF-8).
 */
import { appendFileSync } from 'node:fs';
import { toJsonLine } from './json.js';

/** One dead letter. */
export interface DeadLetterRecord {
  /** Input line (first line of a CSV record) for import. */
  line?: number;
  /** The last line of a CSV record over several lines. */
  endLine?: number;
  /** Scan segment for copy and delete. */
  segment?: number;
  error: { name?: string; code?: string; message: string };
  /** The item (or, for delete, the item whose key was to be deleted). */
  item?: unknown;
  /** The input's original text (line, or lines of a CSV record), for import. */
  text?: string;
  /** The input's original bytes, base64, when they are not valid UTF-8. */
  base64?: string;
  /** For an import from an export folder: the data file, and the line within it. */
  file?: string;
  fileLine?: number;
}

/** How many bad-input messages go to stderr before the rest are only counted. */
const MAX_MESSAGES = 20;

/** An error as the dead-letter file and `--json` show it. */
export function describeError(error: unknown): DeadLetterRecord['error'] {
  type Described = { name?: string; code?: string; message?: string; cause?: Described };
  const outer = error as Described | undefined;
  // a request refused before any call: its own reason (request.missingKey, request.itemTooLarge, …) says the most
  const e = outer?.code?.endsWith('.invalidRequest') && outer.cause ? outer.cause : outer;
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
    const lines =
      record.endLine !== undefined && record.line !== undefined ? `lines ${record.line}-${record.endLine}` : `line ${record.line}`;
    const where = record.line !== undefined ? `${lines}: ` : record.segment !== undefined ? `segment ${record.segment}: ` : '';
    this.message(`${where}${record.error.message}`);
  }

  /** A message on stderr, unless too many were printed already. */
  message(text: string): void {
    if (++this.messages <= MAX_MESSAGES) process.stderr.write(`${text}\n`);
    else if (this.messages === MAX_MESSAGES + 1)
      process.stderr.write(this.dryRun ? '… more problems (counted in the plan)\n' : `… more problems; every one is in ${this.path}\n`);
  }
}
