/**
 * How `submit import FILE... --units N` cuts its files into work units, decided once, at submit, so that every worker
 * reads each file the same way:
 * - a plain NDJSON file is cut into byte ranges (importUnits.ts): all the plain NDJSON files of the job together into
 *   about `N` ranges, each file into `max(1, round(N × its bytes / their total bytes))` ranges — so one file alone is
 *   cut into exactly `N`, as before;
 * - a file that cannot be cut — gzipped, CSV, DynamoDB JSON — is one whole-file unit (importFileUnits.ts), on top of
 *   those `N`; the folder of a DynamoDB export gives one such unit per data file, in its manifest's order.
 *
 * A file's format is `--format` when given (a folder is always DynamoDB JSON), else `.csv` / `.csv.gz` is CSV and any
 * other file is sniffed: DynamoDB JSON when its first non-blank line (gunzipped, if need be) is `{"Item": {"…":
 * {"S": …}}}`, else NDJSON. Each path is made absolute: every worker must read it at that same path. Each unit keeps
 * its file's size, so a worker that meets another file there refuses the unit.
 */
import { closeSync, createReadStream, existsSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { constants, createGunzip, gunzipSync } from 'node:zlib';
import { csvColumns, csvFields } from './csv.js';
import { looksLikeDynamoJson } from './dynamoJson.js';
import { byteRanges } from './importUnits.js';
import type { InputFormat } from './input.js';
import { defaultFormat, exportDataFiles, isGzipFile } from './inputFiles.js';
import { parseJsonItem } from './json.js';
import { CliError, EXIT } from './session.js';
import type { UnitPart } from './units.js';

/** One file of an import job, checked. */
export interface ImportInput {
  /** Absolute path. */
  path: string;
  /** Bytes at submit. */
  size: number;
  format: InputFormat;
  gzip: boolean;
  /** The export folder it is a data file of (as given), if any. */
  folder?: string;
  /** For a data file of an export: the items its manifest entry says it holds. */
  itemCount?: number;
}

/** How to read the files of an import job. */
export interface ImportPlanOptions {
  /** Every file's format. @default each file's own: `.csv` is CSV, the rest sniffed (see the module's comment) */
  format?: InputFormat;
  /** About how many byte ranges the plain NDJSON files are cut into, together. @default 32 */
  units?: number;
}

const refuse = (why: string) => new CliError(`submit import: ${why}`, EXIT.usage);

/** The first bytes of a file (at most 1 MB), gunzipped when it is gzipped: a cut stream is gunzipped as far as it goes. */
function head(path: string, gzip: boolean): Buffer {
  const bytes = Buffer.alloc(1024 * 1024);
  const fd = openSync(path, 'r');
  let read: Buffer;
  try {
    read = bytes.subarray(0, readSync(fd, bytes, 0, bytes.length, 0));
  } finally {
    closeSync(fd);
  }
  if (!gzip) return read;
  try {
    return gunzipSync(read, { finishFlush: constants.Z_SYNC_FLUSH });
  } catch (error) {
    throw refuse(`${path} starts as gzip but cannot be gunzipped (${(error as Error).message}): is it whole?`);
  }
}

/** The first non-blank line of a file's head, without a byte-order mark or a CR. */
function firstLine(path: string, gzip: boolean): string | undefined {
  const line = head(path, gzip)
    .toString('utf8')
    .split('\n')
    .find((l) => l.trim() !== '');
  return line?.replace(/^\uFEFF/, '').replace(/\r$/, '');
}

/** The format of a file whose format was not given: `.csv` is CSV; DynamoDB JSON when its first line is one. */
function sniff(path: string, gzip: boolean): InputFormat {
  if (defaultFormat(path) === 'csv') return 'csv';
  const first = firstLine(path, gzip);
  try {
    const item = first !== undefined ? parseJsonItem(first) : undefined;
    return item && looksLikeDynamoJson(item) ? 'dynamodb-json' : 'ndjson';
  } catch {
    return 'ndjson'; // a bad first line is the unit's first dead letter, not a reason to refuse the job
  }
}

/** A CSV file's header, checked now: a bad one would fail its unit on every worker, every time. */
function checkCsvHeader(path: string, gzip: boolean): void {
  const header = firstLine(path, gzip);
  if (header === undefined || (header.split('"').length - 1) % 2 === 1) return; // empty, or a header over several lines: the unit tells
  try {
    csvColumns(csvFields(header));
  } catch (error) {
    throw refuse(`${path}: the CSV header (its first line) is bad: ${(error as Error).message}`);
  }
}

/**
 * The files of an import job, checked and in order: each file given, or each data file of an export folder given.
 * Refuses (usage, naming the file) stdin, a missing file, a folder that is not a DynamoDB export, a file given
 * twice, a gzipped file that is not whole, a CSV file with a bad header.
 *
 * @param files The files and folders as given (relative to the working directory).
 * @param format `--format`, when given.
 */
export function importInputs(files: readonly string[], format?: InputFormat): ImportInput[] {
  if (files.length === 0) throw refuse('give the files (or folders of DynamoDB exports) to import');
  const inputs: ImportInput[] = [];
  for (const file of files) {
    if (file === '-') throw refuse('stdin (-) cannot be cut into units: give files');
    if (!existsSync(file)) throw refuse(`cannot read ${file}: no such file`);
    const stat = statSync(file);
    if (stat.isDirectory()) {
      if (format !== undefined && format !== 'dynamodb-json')
        throw refuse(`${file} is a folder, read as the DynamoDB JSON of an export; --format ${format} cannot apply to it`);
      let data: Array<{ path: string; itemCount?: number }>;
      try {
        data = exportDataFiles(file);
      } catch (error) {
        throw refuse((error as Error).message);
      }
      for (const { path, itemCount } of data) {
        const size = statSync(path).size;
        const counted = itemCount !== undefined ? { itemCount } : {};
        inputs.push({ path: resolve(path), size, format: 'dynamodb-json', gzip: isGzipFile(path), folder: file, ...counted });
      }
      continue;
    }
    if (!stat.isFile()) throw refuse(`${file} is not a regular file`);
    const gzip = isGzipFile(file);
    const path = resolve(file);
    const own = format ?? sniff(file, gzip);
    if (format !== undefined && gzip) head(file, gzip); // a file that is not whole gzip is refused all the same
    if (own === 'csv') checkCsvHeader(file, gzip);
    inputs.push({ path, size: stat.size, format: own, gzip });
  }
  const seen = new Map<string, string>();
  for (const input of inputs) {
    const before = seen.get(input.path);
    if (before !== undefined)
      throw refuse(`${input.path} is given twice (${before} and ${input.folder ?? input.path}): each file is imported once`);
    seen.set(input.path, input.folder ?? input.path);
  }
  return inputs;
}

/** Whether a file is cut into byte ranges (plain NDJSON) rather than read whole. */
export const isCuttable = (input: ImportInput) => input.format === 'ndjson' && !input.gzip;

/**
 * The units of an import job, in the files' order: byte ranges of the plain NDJSON files (about `units` in all, at
 * least one per file), one whole-file unit for every other file.
 */
export function importParts(inputs: readonly ImportInput[], options: ImportPlanOptions = {}): UnitPart[] {
  const { units = 32 } = options;
  if (!Number.isInteger(units) || units < 1 || units > 1_000_000)
    throw new RangeError(`units must be an integer from 1 to 1000000, got ${units}`);
  const total = inputs.filter(isCuttable).reduce((n, i) => n + i.size, 0);
  return inputs.flatMap((input): UnitPart[] => {
    if (!isCuttable(input)) {
      const counted = input.itemCount !== undefined ? { itemCount: input.itemCount } : {};
      return [{ from: input.path, options: { size: input.size, format: input.format, ...counted } }];
    }
    const n = total > 0 ? Math.max(1, Math.round((input.size / total) * units)) : 1;
    return byteRanges(input.size, n).map((range) => ({ from: input.path, range, options: { size: input.size } }));
  });
}

/**
 * Refuses (usage, naming the file) a gzipped input that does not gunzip to its end — cut short, or with a bad
 * checksum — before any unit is queued: a unit would import its lines up to the damage, then fail on every attempt.
 * Reads each gzipped file once, to its end, keeping nothing.
 */
export async function checkWholeGzip(inputs: readonly ImportInput[], signal?: AbortSignal): Promise<void> {
  for (const input of inputs.filter((i) => i.gzip)) {
    const drop = new Writable({ write: (_chunk, _encoding, done) => done() });
    try {
      await pipeline(createReadStream(input.path), createGunzip(), drop, { signal });
    } catch (error) {
      if (signal?.aborted) throw error;
      throw refuse(`${input.path} is gzipped but does not gunzip to its end (${(error as Error).message}): is it whole?`);
    }
  }
}
