/**
 * `rxjs-dynamodb copy --from A --to B [--transform ./module.js]`: scan A (segments side by side) → transform →
 * `dynamoBatchWrite` into B. The module's default export is `(item) => item | undefined` (it may be async);
 * `undefined` (or `null`) drops the item, and a transform that throws sends the item to the dead-letter file.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dynamoBatchWrite } from '../index.js';
import { Job } from './job.js';
import type { CommonOptions, ScanOptions, WriteOptions } from './options.js';
import { READ_UNITS } from './meter.js';
import { openScanCheckpoint, scanInput } from './scanJob.js';
import { batchSink, planScanWrite, scanWrite, type Transform } from './scanWrite.js';
import { CliError, EXIT, withSession } from './session.js';
import { describeTable, tableKey, targetKey } from './table.js';
import { announceTarget } from './target.js';

export interface CopyOptions extends CommonOptions, ScanOptions, WriteOptions {
  from: string;
  to: string;
  /** A module whose default export is the transform. */
  transform?: string;
  /** Create the target table (on-demand, with `--key` or the source's key) if it does not exist. */
  createTable?: boolean;
}

/** The default export of a transform module. */
export async function loadTransform(path: string): Promise<Transform> {
  let module: { default?: unknown };
  try {
    module = (await import(pathToFileURL(resolve(path)).href)) as { default?: unknown };
  } catch (error) {
    throw new CliError(`cannot load the transform ${path}: ${(error as Error).message}`, EXIT.usage);
  }
  if (typeof module.default !== 'function')
    throw new CliError(
      `the transform ${path} must have a default export (item) => item | undefined, got ${typeof module.default}`,
      EXIT.usage,
    );
  return module.default as Transform;
}

/** Runs `copy`; resolves to the exit code. */
export async function copyCommand(options: CopyOptions): Promise<number> {
  const { from, to } = options;
  const transform = options.transform ? await loadTransform(options.transform) : undefined;
  const { state, file } = openScanCheckpoint('copy', from, options);
  return withSession(options, async (session) => {
    const { signal } = session;
    if (!options.dryRun) await announceTarget(session, options, `copy items of table ${from} into table ${to}`, [to, from]);
    const source = await tableKey(session.client, from, undefined, { signal, checkpoint: file, role: 'source', flag: '--from' });
    const key = !options.dryRun
      ? await targetKey(session.client, to, {
          key: options.key,
          create: options.createTable,
          fallback: source,
          signal,
          checkpoint: file,
          flag: '--to',
        })
      : options.createTable && !options.key && !(await describeTable(session.client, to, signal))
        ? source // the table --create-table would make
        : await tableKey(session.client, to, options.key, { signal, flag: '--to' });
    const job = new Job('copy', options, `copy-${from}-to-${to}`, session.meter);
    const spec = { session, job, input: scanInput(from, options, READ_UNITS), state, file, unitsPerSecond: options.capacity, transform };
    const extra = () => ({ from, to, totalSegments: state.totalSegments, read: job.tally.read });
    if (state.complete) {
      process.stderr.write(`copy: checkpoint ${file!.path} says this copy is complete; nothing to do\n`);
      return job.finish('complete', `items copied to ${to}`, extra(), file?.path);
    }
    job.report(options.filter ? undefined : source.itemCount, 'items', options.dryRun ? () => job.tally.read : undefined);
    if (options.dryRun) {
      const { outcome, plan } = await planScanWrite(spec, key);
      const summary = { command: 'copy', dryRun: true, ok: plan.invalid === 0, ...extra(), skipped: job.tally.skipped, ...plan.summary() };
      if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else process.stdout.write(`${plan.describe(`copy ${from} to ${to}${options.transform ? ` through ${options.transform}` : ''}`)}\n`);
      return outcome === 'interrupted' ? EXIT.interrupted : plan.invalid > 0 ? EXIT.notAllWritten : EXIT.ok;
    }
    try {
      const outcome = await scanWrite(
        spec,
        batchSink((link) => dynamoBatchWrite(session.client, to, job.writeOptions(key.names, link))),
      );
      return job.finish(outcome, `items copied to ${to}`, extra(), file?.path);
    } finally {
      job.stop();
    }
  });
}
