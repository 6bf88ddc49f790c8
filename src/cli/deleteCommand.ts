/**
 * `rxjs-dynamodb delete --table T (--filter EXPR [--values JSON --names JSON] | --all)`: scan (with the
 * FilterExpression, reading only the key attributes) → delete. With `--filter`, each item gets its own DeleteItem
 * with the filter as its condition, so an item changed between the scan and the delete so that it no longer matches
 * is skipped (counted), not deleted; with `--all`, `dynamoBatchDelete` (BatchWriteItem cannot carry a condition).
 * `--dry-run` scans the whole items instead, to plan their sizes: DynamoDB charges a delete by the size of the item.
 */
import { type DeleteItemRequest, dynamoBatchDelete, dynamoDelete } from '../index.js';
import { Job } from './job.js';
import type { CommonOptions, ScanOptions, WriteOptions } from './options.js';
import { READ_UNITS } from './meter.js';
import { keyOfItem, keyProjection, openScanCheckpoint, scanInput } from './scanJob.js';
import { batchSink, itemSink, planScanWrite, scanWrite } from './scanWrite.js';
import { CliError, EXIT, withSession } from './session.js';
import { tableKey } from './table.js';
import { announceTarget } from './target.js';

export interface DeleteOptions extends CommonOptions, ScanOptions, WriteOptions {
  table: string;
  /** Without `--filter`: yes, every item of the table. */
  all?: boolean;
}

/** Runs `delete`; resolves to the exit code. */
export async function deleteCommand(options: DeleteOptions): Promise<number> {
  const { table } = options;
  if (!options.filter && !options.all && !options.dryRun)
    throw new CliError(
      `delete without --filter deletes every item of ${table}: add --all to say so (or --dry-run to see the plan first)`,
      EXIT.usage,
    );
  const { state, file } = openScanCheckpoint('delete', table, options);
  return withSession(options, async (session) => {
    if (!options.dryRun) await announceTarget(session, options, `delete items of table ${table}`, [table]);
    const key = await tableKey(session.client, table, options.key, { signal: session.signal, checkpoint: file });
    const job = new Job('delete', options, `delete-${table}`, session.meter);
    const input = scanInput(table, options, { ...READ_UNITS, ...(options.dryRun ? {} : keyProjection(key.names)) });
    const spec = { session, job, input, state, file, unitsPerSecond: options.capacity };
    const extra = () => ({
      table,
      totalSegments: state.totalSegments,
      read: job.tally.read,
      deleted: job.tally.written,
      ...(options.filter ? { filter: options.filter } : {}),
    });
    if (state.complete) {
      process.stderr.write(`delete: checkpoint ${file!.path} says this delete is complete; nothing to do\n`);
      return job.finish('complete', `items deleted from ${table}`, extra(), file?.path);
    }
    job.report(options.filter ? undefined : key.itemCount, 'items', options.dryRun ? () => job.tally.read : undefined);
    if (options.dryRun) {
      const { outcome, plan } = await planScanWrite(spec, key, options.filter ? 'DeleteItem' : undefined);
      const summary = { command: 'delete', dryRun: true, ok: plan.invalid === 0, ...extra(), ...plan.summary() };
      if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else
        process.stdout.write(
          `${plan.describe(`delete from ${table}${options.filter ? ` where ${options.filter}` : ' every item'}`, 'delete')}\n`,
        );
      return outcome === 'interrupted' ? EXIT.interrupted : EXIT.ok;
    }
    try {
      const { filter, names, values } = options;
      // the filter again, as each delete's condition: what no longer matches is skipped, not deleted
      const condition = filter ? { expression: filter, names, values } : undefined;
      const outcome = condition
        ? await scanWrite(
            spec,
            itemSink(
              (item): DeleteItemRequest => ({ key: keyOfItem(item, key.names), condition }),
              (link) => dynamoDelete(session.client, table, job.itemWriteOptions(link)),
            ),
          )
        : await scanWrite(
            spec,
            batchSink((link) => dynamoBatchDelete(session.client, table, job.writeOptions(key.names, link))),
          );
      return job.finish(
        outcome,
        `items deleted from ${table}`,
        { ...extra(), skippedByCondition: job.tally.skipped },
        file?.path,
        filter ? 'changed since the scan: the filter no longer matched' : undefined,
      );
    } finally {
      job.stop();
    }
  });
}
