/**
 * `rxjs-dynamodb export --table T [--segments N] > out.ndjson`: every item as one JSON line on stdout, the segments
 * of a parallel scan side by side. Pages are asked for only while fewer than 10,000 items are not yet written out
 * (a backpressure link), so a slow reader of stdout holds memory flat. With `--resume`, each segment's checkpoint
 * moves past a page once its lines are written to stdout: a rerun (appending, `>>`) goes on from there; the items
 * of the pages after the checkpoint that were already written out come again.
 *
 * JSON cannot hold every DynamoDB type: sets are written as arrays and binary values as base64 strings; integers
 * beyond 2^53 are written with all their digits.
 */
import { concatMap, from, map } from 'rxjs';
import { backpressure } from '../index.js';
import { toJsonLine } from './deadLetter.js';
import { Job } from './job.js';
import type { CommonOptions, ScanOptions } from './options.js';
import { PageTracker, openScanCheckpoint, scanInput, scanSegments, type SegmentPage } from './scanJob.js';
import { CliError, runToEnd, withSession } from './session.js';
import { describeTable } from './table.js';

export interface ExportOptions extends CommonOptions, ScanOptions {
  table: string;
  resume?: string;
}

/** Writes a page's items to stdout; resolves once they are handed to the operating system. */
function writeLines(page: SegmentPage): Promise<void> {
  if (page.page.Items.length === 0) return Promise.resolve();
  const text = `${page.page.Items.map(toJsonLine).join('\n')}\n`;
  return new Promise((resolve, reject) => process.stdout.write(text, (error) => (error ? reject(error) : resolve())));
}

/** Runs `export`; resolves to the exit code. */
export async function exportCommand(options: ExportOptions): Promise<number> {
  const { table } = options;
  const { state, file } = openScanCheckpoint('export', table, options);
  // a closed pipe (`| head`) fails the write in flight, which stops the job; without a listener it would crash
  process.stdout.on('error', () => undefined);
  return withSession(options, async (session) => {
    const description = await describeTable(session.client, table, session.signal);
    file?.bind('source', table, description); // a checkpoint made in another table of this name is refused
    if (!description) throw new CliError(`table ${table} does not exist (check --table, --endpoint and --region)`);
    const job = new Job('export', options, `export-${table}`, process.stderr);
    let pageCount = 0;
    const extra = () => ({ table, totalSegments: state.totalSegments, items: job.tally.written, pages: pageCount });
    if (state.complete) {
      process.stderr.write(`export: checkpoint ${file!.path} says this export is complete; nothing to do\n`);
      return job.finish('complete', 'items exported', extra(), file?.path);
    }
    job.report(options.filter ? undefined : description.ItemCount, 'items');
    const link = backpressure({ highWaterMark: 10_000 });
    const tracker = new PageTracker(state, (s) => file?.update(s));
    const pages = scanSegments(session.client, scanInput(table, options), state, {
      backpressure: link,
      unitsPerSecond: options.capacity,
    }).pipe(
      // one page at a time, in order, so that each segment's checkpoint follows what stdout really got
      concatMap((page) => from(writeLines(page)).pipe(map(() => page))),
    );
    try {
      const outcome = await runToEnd(pages, session.signal, (page) => {
        const count = page.page.Items.length;
        pageCount++;
        job.tally.read += count;
        job.tally.written += count;
        page.remaining = 0;
        tracker.add(page);
        link.release(count);
        job.update();
      });
      return job.finish(outcome, 'items exported', extra(), file?.path);
    } catch (error) {
      throw new CliError(
        `export stopped: ${(error as Error).message}${file ? `; rerun with --resume ${file.path} (appending to the output) to go on` : ''}`,
      );
    } finally {
      file?.flush();
      job.stop();
    }
  });
}
