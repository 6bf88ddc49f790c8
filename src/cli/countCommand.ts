/**
 * `rxjs-dynamodb count --table T [--filter EXPR] [--segments N]`: Scan with `Select: 'COUNT'`, page after page
 * (segments side by side), summing `Count` (items matching the filter) and `ScannedCount` (items read). The count
 * is printed on stdout, or with `--json` as `{ table, count, scannedCount, pages, … }`.
 */
import { READ_UNITS } from './meter.js';
import { openScanCheckpoint, scanInput, scanSegments } from './scanJob.js';
import type { CommonOptions, ScanOptions } from './options.js';
import { CliError, EXIT, runToEnd, withSession } from './session.js';
import { describeTable } from './table.js';

export interface CountOptions extends CommonOptions, ScanOptions {
  table: string;
}

/** Runs `count`; resolves to the exit code. */
export async function countCommand(options: CountOptions): Promise<number> {
  const { table } = options;
  const { state } = openScanCheckpoint('count', table, { segments: options.segments });
  return withSession(options, async (session) => {
    if (!(await describeTable(session.client, table, session.signal)))
      throw new CliError(`table ${table} does not exist (check --table, --endpoint and --region)`);
    const started = Date.now();
    let count = 0;
    let scannedCount = 0;
    let pages = 0;
    const input = scanInput(table, options, { Select: 'COUNT', ...READ_UNITS });
    let outcome: 'complete' | 'interrupted';
    try {
      outcome = await runToEnd(
        scanSegments(session.client, input, state, { unitsPerSecond: options.capacity }),
        session.signal,
        ({ page }) => {
          count += page.count;
          scannedCount += page.scannedCount;
          pages++;
        },
      );
    } catch (error) {
      throw new CliError(`count stopped: ${(error as Error).message}`);
    }
    if (outcome === 'interrupted') return EXIT.interrupted;
    const elapsedMs = Date.now() - started;
    if (options.json)
      process.stdout.write(
        `${JSON.stringify({
          command: 'count',
          ok: true,
          table,
          count,
          scannedCount,
          pages,
          totalSegments: state.totalSegments,
          calls: session.meter.readCalls,
          unitsConsumed: session.meter.readUnits,
          elapsedMs,
        })}\n`,
      );
    else process.stdout.write(`${count}\n`);
    return EXIT.ok;
  });
}
