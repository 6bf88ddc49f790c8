/**
 * `rxjs-dynamodb export --table T [--segments N] [--format ndjson|dynamodb-json] [--output FILE]`: every item as
 * one line on stdout or in FILE, the segments of a parallel scan side by side. Pages are asked for only while fewer
 * than 10,000 items are not yet written out (a backpressure link), so a slow reader holds memory flat.
 *
 * Pages are written whole, one at a time, in the order they come; after each, in one synchronous step, its
 * segment's checkpoint moves past it and the checkpoint records the output's length. So every checkpoint saved
 * describes a prefix of the output: each segment's pages up to its key, and nothing else. Resuming with `--output`
 * cuts the file back to that length and goes on: each item once. Resuming to stdout (appending, `>>`) cannot cut
 * back: the items of the pages written after the last checkpoint come again.
 *
 * `--format dynamodb-json` keeps every value exactly (DynamoDB's export format). Plain JSON keeps every digit of
 * every number, but has no sets or binary: sets are written as arrays and binary as base64 strings (one warning).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { concatMap, from, map } from 'rxjs';
import { backpressure, type Item } from '../index.js';
import { lineWriter, openSink, type OutputFormat } from './exportOutput.js';
import { toJsonLine } from './json.js';
import { Job } from './job.js';
import type { CommonOptions, ScanOptions } from './options.js';
import { READ_UNITS } from './meter.js';
import { PageTracker, openScanCheckpoint, type ScanCheckpoint, scanInput, scanSegments } from './scanJob.js';
import { CliError, EXIT, runToEnd, withSession } from './session.js';
import { describeTable } from './table.js';

export interface ExportOptions extends CommonOptions, ScanOptions {
  table: string;
  resume?: string;
  /** @default 'ndjson' */
  format?: OutputFormat;
  /** A file to write (replaced; with `--resume`, cut back to the checkpoint and appended to). @default stdout */
  output?: string;
}

/** An export's checkpoint: the scan's, plus the format and where the lines go (`null`: stdout) and how long the file is. */
type ExportCheckpoint = ScanCheckpoint & { format?: OutputFormat; output?: { path: string; bytes: number } | null };

/** Checks that a checkpoint being resumed was made for this format and output; records them in a new one. */
function matchOutput(state: ExportCheckpoint, resuming: boolean, format: OutputFormat, output: string | undefined, path: string): void {
  if (!resuming) {
    state.format = format;
    state.output = output === undefined ? null : { path: resolve(output), bytes: 0 };
    return;
  }
  const made = state.format ?? 'ndjson';
  if (made !== format)
    throw new CliError(`checkpoint ${path} was made for --format ${made}; pass that, or use another --resume file`, EXIT.usage);
  const to = state.output?.path;
  if (to === undefined && output !== undefined)
    throw new CliError(
      `checkpoint ${path} was made for an export to stdout; resume it to stdout (>>), or use another --resume file`,
      EXIT.usage,
    );
  if (to !== undefined && (output === undefined || resolve(output) !== to))
    throw new CliError(`checkpoint ${path} was made for --output ${to}; pass that, or use another --resume file`, EXIT.usage);
}

/** Runs `export`; resolves to the exit code. */
export async function exportCommand(options: ExportOptions): Promise<number> {
  const { table, format = 'ndjson', output } = options;
  if (output !== undefined && /\.gz$/i.test(output))
    throw new CliError(`export writes uncompressed lines; to gzip them, write to stdout: export … | gzip > ${output}`, EXIT.usage);
  const resuming = options.resume !== undefined && existsSync(options.resume);
  const opened = openScanCheckpoint('export', table, options);
  const { file } = opened;
  const state = opened.state as ExportCheckpoint;
  if (file) matchOutput(state, resuming, format, output, file.path);
  if (resuming && output === undefined && !state.complete)
    process.stderr.write(
      'export: resuming to stdout: the items of the pages written after the last checkpoint come again (--output FILE avoids that)\n',
    );
  return withSession(options, async (session) => {
    const description = await describeTable(session.client, table, session.signal);
    file?.bind('source', table, description); // a checkpoint made in another table of this name is refused
    if (!description) throw new CliError(`table ${table} does not exist (check --table, --endpoint and --region)`);
    const job = new Job('export', options, `export-${table}`, session.meter, process.stderr);
    let pageCount = 0;
    const extra = () => ({
      table,
      format,
      output: output ?? null,
      totalSegments: state.totalSegments,
      items: job.tally.written,
      pages: pageCount,
    });
    if (state.complete) {
      process.stderr.write(`export: checkpoint ${file!.path} says this export is complete; nothing to do\n`);
      return job.finish('complete', 'items exported', extra(), file?.path);
    }
    job.report(options.filter ? undefined : description.ItemCount, 'items');
    const sink = await openSink(output, resuming ? (state.output?.bytes ?? 0) : undefined);
    const keyNames = (description.KeySchema ?? []).map((k) => k.AttributeName!);
    const linesOf = lineWriter(format, (kind, item) =>
      process.stderr.write(
        `export: warning: plain JSON has no ${kind === 'set' ? 'sets' : 'binary'} (first met in the item ${toJsonLine(
          Object.fromEntries(keyNames.map((k) => [k, item[k]])) as Item,
        )}): sets are written as arrays and binary values as base64 strings, so an import of this file gives lists and strings; --format dynamodb-json keeps them\n`,
      ),
    );
    const link = backpressure({ highWaterMark: 10_000 });
    const tracker = new PageTracker(state, (s) => file?.update(s));
    const pages = scanSegments(session.client, scanInput(table, options, READ_UNITS), state, {
      backpressure: link,
      unitsPerSecond: options.capacity,
    }).pipe(
      // one page at a time, in order, so that each segment's checkpoint follows what the output really got
      concatMap((page) => from(sink.write(linesOf(page.page.items))).pipe(map(() => page))),
    );
    try {
      const outcome = await runToEnd(pages, session.signal, (page) => {
        const count = page.page.items.length;
        pageCount++;
        job.tally.read += count;
        job.tally.written += count;
        page.remaining = 0;
        // the output's length and the segment's key move together (one synchronous step): any checkpoint saved agrees
        if (state.output) state.output.bytes = sink.bytes;
        tracker.add(page);
        link.release(count);
        job.update();
      });
      return job.finish(outcome, 'items exported', extra(), file?.path);
    } catch (error) {
      // the reader of stdout has had enough (`export … | head -2`): as other Unix tools, stop quietly
      if (output === undefined && (error as NodeJS.ErrnoException).code === 'EPIPE') return EXIT.ok;
      throw new CliError(
        `export stopped: ${(error as Error).message}${
          file ? `; rerun with --resume ${file.path}${output === undefined ? ' (appending to the output)' : ''} to go on` : ''
        }`,
      );
    } finally {
      file?.flush();
      job.stop();
      await sink.close();
    }
  });
}
