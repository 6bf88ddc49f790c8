/**
 * Where `import` reads from — a file, stdin (`-`), or the folder of a DynamoDB export to S3 — as numbered lines of
 * bytes: gzip is undone when the data starts with gzip's magic bytes (any name; `.json.gz` data files included),
 * each line is checked to be UTF-8 (a line that is not keeps its bytes, for the dead-letter file), and lines end
 * with LF or CRLF.
 */
import { isUtf8 } from 'node:buffer';
import { closeSync, createReadStream, existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { pipeline, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { CliError } from './session.js';

/** One input line: its text (without the line end), its number, and, when it is not valid UTF-8, its bytes. */
export interface RawLine {
  /** Line number, from 1; counted on across the files of an export folder. */
  readonly n: number;
  /** The text, decoded (bytes that are not UTF-8 become U+FFFD here; `bytes` keeps them). */
  readonly text: string;
  /** The line end after it: `\n`, `\r\n`, or `''` (`'\r'`) for a last line without one. */
  readonly eol: string;
  /** The original bytes, only for a line that is not valid UTF-8. */
  readonly bytes?: Buffer;
  /** For an export folder: the data file, and the line within it. */
  readonly file?: string;
  readonly fileLine?: number;
}

/** The lines of the input, a batch at a time, and a way to stop reading. */
export interface Input {
  lines: AsyncIterable<RawLine[]>;
  /** A single uncompressed file, whose lines can be counted beforehand for the progress bar. */
  countable: boolean;
  /** The data files of an export folder, in the manifest's order. */
  files?: string[];
  close(): void;
}

const GZIP = [0x1f, 0x8b];

/** Whether a file starts with gzip's magic bytes. */
export function isGzipFile(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === GZIP[0] && head[1] === GZIP[1];
  } finally {
    closeSync(fd);
  }
}

/** The format of an input when `--format` is not given: an export folder is DynamoDB JSON, `.csv` (`.csv.gz`) CSV, the rest NDJSON. */
export function defaultFormat(file: string): 'ndjson' | 'csv' | 'dynamodb-json' {
  if (file !== '-' && existsSync(file) && statSync(file).isDirectory()) return 'dynamodb-json';
  return /\.csv(\.gz)?$/i.test(file) ? 'csv' : 'ndjson';
}

/** The folder holding manifest-files.json: `dir` itself, or the one folder below it (two levels at most) that has one. */
function exportRoot(dir: string): string {
  if (existsSync(join(dir, 'manifest-files.json'))) return dir;
  const found: string[] = [];
  const look = (at: string, depth: number) => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const sub = join(at, entry.name);
      if (existsSync(join(sub, 'manifest-files.json'))) found.push(sub);
      else if (depth < 2) look(sub, depth + 1);
    }
  };
  look(dir, 1);
  if (found.length === 1) return found[0]!;
  if (found.length === 0)
    throw new CliError(
      `${dir} is a folder without manifest-files.json: give the folder of a DynamoDB export to S3 (the one holding manifest-files.json and data/), or a file`,
    );
  throw new CliError(`${dir} holds several DynamoDB exports; give one of: ${found.map((f) => relative(dir, f) || '.').join(', ')}`);
}

/** One entry of manifest-files.json. */
interface ManifestEntry {
  dataFileS3Key: string;
  itemCount?: number;
}

/**
 * The data files of a DynamoDB export to S3 downloaded to `dir`, in the order of its manifest-files.json (one JSON
 * object per line, each naming a `dataFileS3Key` such as `prefix/AWSDynamoDB/0169…-abcd/data/xyz.json.gz`). A key is
 * looked for under the export's folder as `data/<name>`, then as the whole key, then by its name alone.
 */
export function exportDataFiles(dir: string): Array<{ path: string; itemCount?: number }> {
  const root = exportRoot(dir);
  const manifest = join(root, 'manifest-files.json');
  return readFileSync(manifest, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      let entry: ManifestEntry;
      try {
        entry = JSON.parse(line) as ManifestEntry;
      } catch (error) {
        throw new CliError(`${manifest} line ${i + 1} is not JSON: ${(error as Error).message}`);
      }
      const key = entry.dataFileS3Key;
      if (typeof key !== 'string') throw new CliError(`${manifest} line ${i + 1} has no dataFileS3Key`);
      const data = key.lastIndexOf('data/');
      const candidates = [...(data >= 0 ? [join(root, key.slice(data))] : []), join(root, key), join(root, 'data', basename(key))];
      const path = candidates.find((c) => existsSync(c));
      if (!path) throw new CliError(`${manifest} lists ${key}, which is not in ${root} (looked for ${candidates.join(', ')})`);
      return { path, ...(typeof entry.itemCount === 'number' ? { itemCount: entry.itemCount } : {}) };
    });
}

/** The bytes of a stream, gunzipped when they start with gzip's magic bytes. */
async function* bytesOf(stream: Readable): AsyncGenerator<Buffer> {
  const iterator = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < 2 && !done) {
    const next = await iterator.next();
    if (next.done) done = true;
    else {
      head.push(next.value);
      size += next.value.length;
    }
  }
  const first = Buffer.concat(head);
  async function* all(): AsyncGenerator<Buffer> {
    if (first.length > 0) yield first;
    while (!done) {
      const next = await iterator.next();
      if (next.done) return;
      yield next.value;
    }
  }
  if (first[0] !== GZIP[0] || first[1] !== GZIP[1]) return yield* all();
  const gunzip = createGunzip();
  pipeline(Readable.from(all()), gunzip, () => undefined); // an error on either side ends the reading below with it
  yield* gunzip as AsyncIterable<Buffer>;
}

/** The bytes of a file or stdin, a read error (a cut gzip file, …) naming it. */
async function* named(name: string, chunks: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  try {
    yield* chunks;
  } catch (error) {
    throw new Error(`cannot read ${name === '-' ? 'stdin' : name}: ${(error as Error).message}`, { cause: error });
  }
}

/** A line's bytes as a RawLine: the CR of a CRLF and a byte-order mark taken off, UTF-8 checked. */
export function rawLine(bytes: Buffer, n: number, newline: boolean, first: boolean, file?: { name: string; start: number }): RawLine {
  let end = bytes.length;
  let eol = newline ? '\n' : '';
  if (end > 0 && bytes[end - 1] === 13) {
    end--;
    eol = newline ? '\r\n' : '\r';
  }
  let start = 0;
  if (first && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
  const body = bytes.subarray(start, end);
  const where = file ? { file: file.name, fileLine: n - file.start } : {};
  const text = body.toString('utf8');
  return isUtf8(body) ? { n, text, eol, ...where } : { n, text, eol, bytes: Buffer.from(body), ...where };
}

/** The lines of a byte stream, numbered on from `counter.n`, a batch per chunk read; a long line is joined once, when it ends. */
async function* linesOf(
  chunks: AsyncIterable<Buffer>,
  counter: { n: number },
  file?: { name: string; start: number },
): AsyncGenerator<RawLine[]> {
  let pieces: Buffer[] = [];
  let first = true;
  for await (const chunk of chunks) {
    const lines: RawLine[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10, start)) {
      let bytes = chunk.subarray(start, nl);
      if (pieces.length > 0) {
        pieces.push(bytes);
        bytes = Buffer.concat(pieces);
        pieces = [];
      }
      lines.push(rawLine(bytes, ++counter.n, true, first, file));
      first = false;
      start = nl + 1;
    }
    if (start < chunk.length) pieces.push(chunk.subarray(start));
    if (lines.length > 0) yield lines;
  }
  if (pieces.length > 0) yield [rawLine(Buffer.concat(pieces), ++counter.n, false, first, file)];
}

/** Opens the input: a file, `-` for stdin, or the folder of a DynamoDB export (its data files one after the other). */
export function openInput(file: string, warn: (message: string) => void = (m) => process.stderr.write(`${m}\n`)): Input {
  const streams: Readable[] = [];
  const open = (path: string): Readable => {
    const stream = path === '-' ? process.stdin : createReadStream(path);
    streams.push(stream);
    return stream;
  };
  const close = () => {
    for (const stream of streams.splice(0)) stream.destroy();
  };
  const counter = { n: 0 };
  if (file !== '-' && statSync(file).isDirectory()) {
    const files = exportDataFiles(file);
    async function* all(): AsyncGenerator<RawLine[]> {
      for (const { path, itemCount } of files) {
        const start = counter.n;
        let items = 0;
        for await (const lines of linesOf(named(path, bytesOf(open(path))), counter, { name: path, start })) {
          for (const line of lines) if (line.text.trim() !== '') items++;
          yield lines;
        }
        if (itemCount !== undefined && items !== itemCount)
          warn(`warning: ${path} holds ${items} lines, its manifest entry says ${itemCount} items`);
      }
    }
    return { lines: all(), countable: false, files: files.map((f) => f.path), close };
  }
  // a regular file only: reading the first bytes of a pipe (`<(zcat …)`) would take them from the import
  const countable = file !== '-' && statSync(file).isFile() && !isGzipFile(file);
  return { lines: linesOf(named(file, bytesOf(open(file))), counter), countable, close };
}
