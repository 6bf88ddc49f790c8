/**
 * Export units: `rxjs-dynamodb submit export --table T --output DIR [--format ndjson|dynamodb-json] [--segments N]`
 * cuts an export into parallel-scan segments, and each unit writes the items of its own segment, its pages whole and
 * in order, into a part file of its own: `DIR/part-<segment>.ndjson` (plain JSON, one item a line, as `export`
 * writes it) or `DIR/part-<segment>.json` (DynamoDB JSON, `{"Item": {…}}` a line), the segment zero-padded to the
 * width of the number of units (`part-07.ndjson` of 32), so that `ls` and the shell's globs list the parts in order.
 *
 * DIR must be one folder that every worker sees at the same absolute path (a shared file system: NFS, EFS, …).
 * `submit` makes it and claims it with a small file, `DIR/.rxjs-dynamodb-export.json` (a folder that already holds
 * one, or part files, is refused); a worker that does not see that file refuses the unit, which is then tried on
 * another worker while its attempts last — its parts would otherwise be scattered over machines.
 *
 * ## One file
 * The parts are whole lines, and the export is their concatenation, in any order: `cat DIR/part-* > T.ndjson`.
 * `rxjs-dynamodb import DIR` does not read them back: import reads a folder only when it is DynamoDB's own export to
 * S3 (with manifest-files.json). Import the parts through stdin, `cat DIR/part-* | rxjs-dynamodb import - --table T`
 * (add `--format dynamodb-json` for `.json` parts), or each part as a file (`import DIR/part-03.ndjson --table T`);
 * `submit import DIR/part-*` takes the parts themselves, one or more units each (add `--format dynamodb-json` for `.json` parts).
 *
 * ## Cursor
 * A unit's cursor says both where its segment's scan stands and how long its part was then:
 * `{ key: { M: <the LastEvaluatedKey, stored exactly> }, bytes: { N: '<the part's length>' } }`. The two move together
 * (one synchronous step after each page is written: `export`'s checkpoint rule), so a unit run again from a cursor
 * cuts its part back to `bytes` (dropping the lines of the pages written after it, which the scan reads again) and
 * goes on from `key`: every item is in the parts exactly once, even after a SIGKILL in the middle of a write. A unit
 * without a cursor starts its part empty. A part shorter than its cursor says (cut by hand, or writes lost with the
 * machine that made them) is written again from the start of the segment: the part is the unit's alone, so that is
 * always right.
 */
import { closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { concatMap, from, map } from 'rxjs';
import { backpressure } from '../index.js';
import type { StoredKey } from './checkpoint.js';
import { lineWriter, openSink, type OutputFormat, type Sink } from './exportOutput.js';
import { parseJsonValue } from './json.js';
import { READ_UNITS } from './meter.js';
import type { Tally } from './progress.js';
import { PageTracker, scanInput, scanSegments } from './scanJob.js';
import { CliError, EXIT, runToEnd } from './session.js';
import type { Planner } from './submitCommand.js';
import { refuseFlags } from './submitFlags.js';
import { describeTable, keyOf } from './table.js';
import { type RunUnitOptions, unitCheckpoint, type UnitPosition, type UnitResult, type WorkUnit } from './units.js';

/** The formats of a part, and the extension of each. */
const EXTENSIONS: Record<OutputFormat, string> = { ndjson: 'ndjson', 'dynamodb-json': 'json' };

/** The name of a part file: `part-<segment>.<ext>`, the segment zero-padded to the width of `totalSegments`. */
export function partName(segment: number, totalSegments: number, format: OutputFormat): string {
  return `part-${String(segment).padStart(String(totalSegments).length, '0')}.${EXTENSIONS[format]}`;
}

/** A part file's name, of either format. */
const PART = /^part-\d+\.(ndjson|json)$/;

/** The file `submit` claims DIR with: which table, in which format (a hidden file, out of `cat DIR/part-*`'s way). */
export const CLAIM_FILE = '.rxjs-dynamodb-export.json';

/** What the claim file holds. */
export interface ExportClaim {
  command: 'export';
  table: string;
  /** The table's ARN at submit (DescribeTable). */
  tableArn?: string;
  format: OutputFormat;
  createdAt: string;
}

/** Where an export unit stands: the segment's LastEvaluatedKey reached, and the part's length in bytes then. */
export interface PartPosition {
  key: StoredKey;
  bytes: number;
}

/**
 * The cursor of an export unit: `{ key: { M: key }, bytes: { N: '<digits>' } }`. It is stored as JSON like every
 * cursor; its `M` is a map of S, N and B values, as exact as a key stored alone (`StoredKey`'s type names those three).
 */
export function partCursor({ key, bytes }: PartPosition): StoredKey {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`bytes must be an integer >= 0, got ${bytes}`);
  return { key: { M: key }, bytes: { N: String(bytes) } } as unknown as StoredKey;
}

/** The position in an export unit's cursor (`undefined`: none); a cursor that is not one is refused, naming `where`. */
export function readPartCursor(cursor: StoredKey | undefined, where = 'an export unit'): PartPosition | undefined {
  if (cursor === undefined) return undefined;
  const c = cursor as unknown as { key?: { M?: unknown }; bytes?: { N?: unknown } };
  const key = c.key?.M;
  const n = c.bytes?.N;
  const bytes = typeof n === 'string' && /^\d{1,16}$/.test(n) ? Number(n) : NaN;
  const keyOk =
    typeof key === 'object' &&
    key !== null &&
    !Array.isArray(key) &&
    Object.values(key).every((v) => typeof v === 'object' && v !== null && ['S', 'N', 'B'].some((t) => typeof v[t] === 'string'));
  if (!keyOk || !Number.isSafeInteger(bytes) || Object.keys(cursor).length !== 2)
    throw new CliError(
      `the cursor of ${where} must be { "key": { "M": <LastEvaluatedKey> }, "bytes": { "N": "<length>" } }, got ${JSON.stringify(cursor)}`,
      EXIT.usage,
    );
  return { key: key as StoredKey, bytes };
}

/** The format of a unit (`options.format`), checked. @default 'ndjson' */
function formatOf(unit: WorkUnit): OutputFormat {
  const format = unit.options.format ?? 'ndjson';
  if (format !== 'ndjson' && format !== 'dynamodb-json')
    throw new CliError(
      `export unit ${unit.segment} of ${unit.jobId}: format must be ndjson or dynamodb-json, got ${String(format)}`,
      EXIT.usage,
    );
  return format;
}

/** The claim of DIR, as this worker sees it; refused, named, when missing or made for another export. */
function checkClaim(unit: WorkUnit, format: OutputFormat): void {
  const path = join(unit.to, CLAIM_FILE);
  const where = `export unit ${unit.segment} of ${unit.jobId}`;
  if (!existsSync(path))
    throw new CliError(
      `${where}: ${path} is not on this worker: the --output folder of an export job (made by submit) must be one folder shared by every worker, at the same path`,
    );
  let claim: ExportClaim;
  try {
    claim = JSON.parse(readFileSync(path, 'utf8')) as ExportClaim;
  } catch (error) {
    throw new CliError(`${where}: ${path} is not valid JSON (${(error as Error).message})`);
  }
  if (claim.table !== unit.from || claim.format !== format)
    throw new CliError(
      `${where}: ${unit.to} was claimed for an export of ${claim.table} (${claim.format}), not of ${unit.from} (${format}); another export uses that folder`,
    );
}

/** The length of a file, or `undefined` when there is none. */
const sizeOf = (path: string) => (existsSync(path) ? statSync(path).size : undefined);

/**
 * Runs one export unit from its cursor: scans its segment of `unit.from` (from the cursor's key) and appends the
 * pages, whole and in order, to its part file in `unit.to` (cut back to the cursor's length first; without a cursor,
 * made empty). The cursor moves (`onCursor`) after each page written; `tally.read` and `tally.written` count items
 * read and written to the part. Resolves with `outcome: 'interrupted'` when `signal` aborts, the cursor at the last
 * page written; a failure (no table, no access, a full disk) rejects with a `CliError` naming the unit and its part.
 *
 * @param unit An export unit (`makeUnits` of an export job), with the cursor saved last.
 * @param options As for `runUnit`: `capacity.read` (else `unit.options.capacity`) limits its Scan.
 * @returns How it ended, its tally, and where it stands (`{ done: true }` when its segment is all in its part).
 */
export async function runExportUnit(unit: WorkUnit, options: RunUnitOptions): Promise<UnitResult> {
  const tally: Tally = { read: 0, done: 0, written: 0, failed: 0, skipped: 0 };
  if (unit.done) return { outcome: 'complete', tally, position: { done: true } };
  const format = formatOf(unit);
  const path = join(unit.to, partName(unit.segment, unit.totalSegments, format));
  const where = `export unit ${unit.segment} of ${unit.jobId} (${path})`;
  let at = readPartCursor(unit.cursor, where);
  checkClaim(unit, format);
  // a part shorter than the cursor says: written again from the segment's start (the part is this unit's alone)
  if (at && (sizeOf(path) ?? -1) < at.bytes) at = undefined;
  let sink: Sink;
  try {
    sink = await openSink(path, at?.bytes);
  } catch (error) {
    throw new CliError(`${where}: cannot open its part: ${(error as Error).message}`);
  }
  try {
    let position: UnitPosition = at ? { cursor: partCursor(at), done: false } : { done: false };
    const state = unitCheckpoint({ ...unit, cursor: at?.key });
    const { pageSize, filter, names } = unit.options;
    const values = unit.options.values ? (parseJsonValue(unit.options.values) as Record<string, unknown>) : undefined;
    const linesOf = lineWriter(format, () => undefined); // plain JSON's sets and binary: see the submit line
    const link = backpressure({ highWaterMark: 10_000 });
    const tracker = new PageTracker(state, (s) => {
      // the part's length and the segment's key move together (one synchronous step): any cursor saved agrees
      const segment = s.segments[unit.segment]!;
      position = segment.done ? { done: true } : { cursor: partCursor({ key: segment.startKey!, bytes: sink.bytes }), done: false };
      options.onCursor?.(position, tally);
    });
    const pages = scanSegments(options.client, scanInput(unit.from, { pageSize, filter, names, values }, READ_UNITS), state, {
      backpressure: link,
      ...(options.capacity?.read ? { capacity: options.capacity.read } : { unitsPerSecond: unit.options.capacity }),
    }).pipe(
      // one page at a time, in order, so that the cursor follows what the part really got
      concatMap((page) => from(sink.write(linesOf(page.page.items))).pipe(map(() => page))),
    );
    const outcome = await runToEnd(pages, options.signal ?? new AbortController().signal, (page) => {
      const count = page.page.items.length;
      tally.read += count;
      tally.written += count;
      tally.done += count;
      page.remaining = 0;
      tracker.add(page);
      link.release(count);
    });
    return { outcome, tally, position: outcome === 'complete' ? { done: true } : position };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`${where} stopped: ${(error as Error).message}; every item before its cursor is in its part`);
  } finally {
    // after the write in flight (close waits for it): a run of this unit that comes next finds the part settled
    await sink.close();
  }
}

/** The part files (and claim) a folder holds already: another export's. */
function exportFilesIn(dir: string): string[] {
  return readdirSync(dir).filter((name) => PART.test(name) || name === CLAIM_FILE);
}

/**
 * export: a table read by scan segments into a folder of part files, one per unit. Checks the flags at once (the
 * table, `--output DIR` — not gzip, not a file, not the folder of another export — and `--format`), then in the
 * session that the table exists, makes DIR and claims it.
 */
export const planExport: Planner = (options) => {
  const refuse = (why: string) => new CliError(`submit export: ${why}`, EXIT.usage);
  const table = options.table;
  if (!table) throw refuse('needs --table <name>, the table to export');
  refuseFlags('export', options, ['--from', '--to', '--all', '--transform', '--set', '--add', '--remove', '--create-table', '--key']);
  if (!options.output)
    throw refuse(
      'needs --output <dir>: the folder each unit writes its part file into (one folder shared by every worker, at the same path)',
    );
  if (/\.gz$/i.test(options.output))
    throw refuse(
      `--output ${options.output}: the parts are written uncompressed into a folder; gzip them afterwards: cat DIR/part-* | gzip > export.gz`,
    );
  const format = options.format ?? 'ndjson';
  if (format !== 'ndjson' && format !== 'dynamodb-json') throw refuse(`--format must be ndjson or dynamodb-json, got ${String(format)}`);
  const dir = resolve(options.output);
  const taken = () => {
    const found = exportFilesIn(dir);
    if (found.length > 0)
      throw refuse(
        `--output ${dir} holds the files of another export (${found.slice(0, 3).join(', ')}${found.length > 3 ? ', …' : ''}); choose another folder, or remove them`,
      );
  };
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw refuse(`--output ${dir} is a file; give a folder (made if missing) for the part files`);
    taken();
  }
  return async ({ client, signal }) => {
    const description = await describeTable(client, table, signal);
    if (!description) throw new CliError(`table ${table} does not exist (check --table, --endpoint and --region)`);
    await mkdir(dir, { recursive: true });
    taken();
    const claim: ExportClaim = {
      command: 'export',
      table,
      ...(description.TableArn ? { tableArn: description.TableArn } : {}),
      format,
      createdAt: new Date().toISOString(),
    };
    let fd: number;
    try {
      fd = openSync(join(dir, CLAIM_FILE), 'wx'); // at most one export claims a folder, even submitted at the same moment
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw refuse(`--output ${dir} was claimed by another export meanwhile`);
      throw new CliError(`submit export: cannot write into --output ${dir}: ${(error as Error).message}`);
    }
    try {
      writeSync(fd, `${JSON.stringify(claim)}\n`);
    } finally {
      closeSync(fd);
    }
    const loss = format === 'ndjson' ? ' (plain JSON: sets as arrays, binary as base64; --format dynamodb-json keeps them)' : '';
    return {
      from: table,
      to: dir,
      options: { key: keyOf(description).names, format },
      describe: `export ${table} to ${join(dir, `part-*.${EXTENSIONS[format]}`)}${loss}; one file: cat ${join(dir, 'part-*')}`,
    };
  };
};
