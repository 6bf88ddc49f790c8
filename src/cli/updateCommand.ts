/**
 * `rxjs-dynamodb update --table T --filter EXPR --set JSON [--add JSON] [--remove a,b]`: scan (or query, with
 * `--key-condition`) for the items that match, reading only their keys, and update each with its own UpdateItem whose
 * condition is the filter again (and that the item still exists): an item changed between the scan and the update so
 * that it no longer matches — or deleted meanwhile — is skipped and counted, never clobbered or re-created.
 * `--dry-run` reads the whole matching items and reports how many would change and the estimated write units.
 */
import { compileExpressions, type Condition, dynamoUpdate, type UpdateItemRequest, type UpdateSpec } from '../index.js';
import { Job } from './job.js';
import { READ_UNITS } from './meter.js';
import type { CommonOptions, ScanOptions, WriteOptions } from './options.js';
import { keyOfItem, keyProjection, openScanCheckpoint, scanInput } from './scanJob.js';
import { itemSink, planScanWrite, scanWrite } from './scanWrite.js';
import { CliError, EXIT, withSession } from './session.js';
import { tableKey } from './table.js';
import { announceTarget } from './target.js';

export interface UpdateOptions extends CommonOptions, ScanOptions, WriteOptions {
  table: string;
  /** Attributes to SET, as plain JSON: `{"status":"archived","stats.archivedBy":"job"}` (keys are document paths). */
  set?: Record<string, unknown>;
  /** Numbers to ADD (or set elements to add): `{"views":1}`. */
  add?: Record<string, unknown>;
  /** Attribute paths to REMOVE. */
  remove?: string[];
  /** A Query KeyConditionExpression (its names and values in `--names` / `--values`): query instead of scan. */
  keyCondition?: string;
  /** Without `--filter` or `--key-condition`: yes, every item of the table. */
  all?: boolean;
}

/** The update each item gets: `--set`, `--add`, `--remove`, checked (compiled) before anything is read. */
export function updateSpecOf(options: UpdateOptions): UpdateSpec {
  const spec: UpdateSpec = {
    ...(options.set ? { set: options.set as UpdateSpec['set'] } : {}),
    ...(options.add ? { add: options.add as UpdateSpec['add'] } : {}),
    ...(options.remove?.length ? { remove: options.remove } : {}),
  };
  if (!spec.set && !spec.add && !spec.remove) throw new CliError('update needs --set, --add or --remove: what to change', EXIT.usage);
  try {
    compileExpressions({ update: spec });
  } catch (error) {
    throw new CliError(`the update is not valid: ${(error as Error).message}`, EXIT.usage);
  }
  return spec;
}

/** The condition each update carries: the filter again (when there is one), and that the item is still there. */
export function recheckOf(options: UpdateOptions, partitionKey: string): Condition {
  const exists: Condition = { attributeExists: [partitionKey] };
  if (!options.filter) return exists;
  // --names and --values serve the key condition too: DynamoDB refuses a condition that leaves one unused, so the key
  // condition (always true of an item the query found) goes in with the filter
  const expression = options.keyCondition ? `(${options.keyCondition}) AND (${options.filter})` : options.filter;
  return { and: [{ expression, names: options.names, values: options.values }, exists] };
}

/** Runs `update`; resolves to the exit code. */
export async function updateCommand(options: UpdateOptions): Promise<number> {
  const { table } = options;
  const spec = updateSpecOf(options);
  if (!options.filter && !options.keyCondition && !options.all && !options.dryRun)
    throw new CliError(
      `update without --filter or --key-condition changes every item of ${table}: add --all to say so (or --dry-run to see the plan first)`,
      EXIT.usage,
    );
  if (options.keyCondition && (options.segments ?? 1) > 1)
    throw new CliError('--key-condition queries: --segments does not apply', EXIT.usage);
  const { state, file } = openScanCheckpoint('update', table, options);
  return withSession(options, async (session) => {
    if (!options.dryRun) await announceTarget(session, options, `update items of table ${table}`, [table]);
    const key = await tableKey(session.client, table, options.key, { signal: session.signal, checkpoint: file });
    const job = new Job('update', options, `update-${table}`, session.meter);
    const read = { ...READ_UNITS, ...(options.keyCondition ? { KeyConditionExpression: options.keyCondition } : {}) };
    const input = scanInput(table, options, { ...read, ...(options.dryRun ? {} : keyProjection(key.names)) });
    const run = { session, job, input, state, file, unitsPerSecond: options.capacity };
    const extra = () => ({
      table,
      totalSegments: state.totalSegments,
      read: job.tally.read,
      modified: job.tally.written,
      skippedByCondition: job.tally.skipped,
      ...(options.filter ? { filter: options.filter } : {}),
      ...(options.keyCondition ? { keyCondition: options.keyCondition } : {}),
    });
    if (state.complete) {
      process.stderr.write(`update: checkpoint ${file!.path} says this update is complete; nothing to do\n`);
      return job.finish('complete', `items modified in ${table}`, extra(), file?.path);
    }
    job.report(
      options.filter || options.keyCondition ? undefined : key.itemCount,
      'items',
      options.dryRun ? () => job.tally.read : undefined,
    );
    const condition = recheckOf(options, key.names[0]!);
    if (options.dryRun) {
      const { outcome, plan } = await planScanWrite(run, key, 'UpdateItem');
      const { UpdateExpression } = compileExpressions({ update: spec });
      const summary = {
        command: 'update',
        dryRun: true,
        ok: plan.invalid === 0,
        ...extra(),
        updateExpression: UpdateExpression,
        ...plan.summary(),
      };
      if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
      else {
        const where = [options.keyCondition, options.filter].filter(Boolean).join(' and ');
        process.stdout.write(
          `${plan.describe(`update ${table}${where ? ` where ${where}` : ' (every item)'}: ${UpdateExpression}`, 'update')}\n`,
        );
      }
      return outcome === 'interrupted' ? EXIT.interrupted : EXIT.ok;
    }
    // one update and one condition for every item: compiled once, sent as raw expressions
    const { UpdateExpression, ConditionExpression, ExpressionAttributeNames, ExpressionAttributeValues } = compileExpressions({
      update: spec,
      condition,
    });
    const expressions = { UpdateExpression: UpdateExpression!, ConditionExpression, ExpressionAttributeNames, ExpressionAttributeValues };
    try {
      const outcome = await scanWrite(
        run,
        itemSink(
          (item): UpdateItemRequest => ({ key: keyOfItem(item, key.names), ...expressions }),
          (link) => dynamoUpdate(session.client, table, job.itemWriteOptions(link)),
        ),
      );
      return job.finish(outcome, `items modified in ${table}`, extra(), file?.path, 'changed since the scan: the filter no longer matched');
    } finally {
      job.stop();
    }
  });
}
