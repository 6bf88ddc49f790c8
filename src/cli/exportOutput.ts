/**
 * Where `export` writes its lines: stdout, or `--output FILE`. A file is written at known offsets, so the checkpoint
 * can record its length with each segment's `LastEvaluatedKey`; a resumed export first cuts the file back to that
 * length (dropping the pages written after the last checkpoint, which the scan reads again), then appends. So an
 * export killed at any moment and resumed leaves each item in the file exactly once.
 */
import { existsSync, statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import type { Item } from '../index.js';
import { toDynamoJsonLine } from './dynamoJson.js';
import { type JsonLoss, toJsonLine } from './json.js';
import { CliError, EXIT } from './session.js';

/** The formats `export` writes. */
export type OutputFormat = 'ndjson' | 'dynamodb-json';

/** Lines out; `bytes` is the length written so far (of the file, for `--output`). */
export interface Sink {
  readonly bytes: number;
  write(text: string): Promise<void>;
  close(): Promise<void>;
}

/** stdout: a closed pipe (`| head`) fails the write in flight, which stops the job (without a listener it would crash). */
function stdoutSink(): Sink {
  process.stdout.on('error', () => undefined);
  let bytes = 0;
  return {
    get bytes() {
      return bytes;
    },
    write: (text) =>
      new Promise((resolve, reject) =>
        process.stdout.write(text, (error) => {
          if (error) return reject(error);
          bytes += Buffer.byteLength(text);
          resolve();
        }),
      ),
    close: async () => undefined,
  };
}

/** A file written from `from` bytes on (cut back to it first): positional writes, so `bytes` is what is in the file. */
async function fileSink(path: string, from: number | undefined): Promise<Sink> {
  let handle: FileHandle;
  if (from === undefined) handle = await open(path, 'w');
  else {
    const size = existsSync(path) ? statSync(path).size : undefined;
    if (size === undefined)
      throw new CliError(
        `--output ${path} does not exist, but the checkpoint says ${from} bytes were written to it; remove the checkpoint to start over`,
        EXIT.usage,
      );
    if (size < from)
      throw new CliError(
        `--output ${path} holds ${size} bytes, fewer than the ${from} the checkpoint says were written (was it cut or replaced?); remove the checkpoint to start over`,
        EXIT.usage,
      );
    handle = await open(path, 'r+');
    await handle.truncate(from);
  }
  let bytes = from ?? 0;
  return {
    get bytes() {
      return bytes;
    },
    async write(text) {
      const buffer = Buffer.from(text);
      let done = 0;
      while (done < buffer.length) done += (await handle.write(buffer, done, buffer.length - done, bytes + done)).bytesWritten;
      bytes += buffer.length;
    },
    close: () => handle.close(),
  };
}

/** The sink of `--output` (a file, resumed from `from` bytes when given), else stdout. */
export function openSink(output: string | undefined, from?: number): Promise<Sink> {
  return output === undefined ? Promise.resolve(stdoutSink()) : fileSink(output, from);
}

/** Turns items into lines of the format; in plain JSON, calls `onLoss` for the first item holding a set or binary value. */
export function lineWriter(format: OutputFormat, onLoss: (kind: JsonLoss, item: Item) => void): (items: Item[]) => string {
  if (format === 'dynamodb-json') return (items) => (items.length ? `${items.map(toDynamoJsonLine).join('\n')}\n` : '');
  let told = false;
  return (items) => {
    if (items.length === 0) return '';
    const lines = items.map((item) =>
      toJsonLine(
        item,
        told
          ? undefined
          : (kind) => {
              if (!told) onLoss(kind, item);
              told = true;
            },
      ),
    );
    return `${lines.join('\n')}\n`;
  };
}
