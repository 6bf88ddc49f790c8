/**
 * Work units: a bulk job cut into parallel-scan segments (or, for `import`, a file into byte ranges: importUnits.ts), each a plain JSON value that says what to do and how far
 * it got (`cursor`: the segment's LastEvaluatedKey reached, every item before it settled). `runUnit` runs one with
 * the same machinery as `copy` (scan → transform → `dynamoBatchWrite`), from its cursor, and tells each move of
 * the cursor; whoever runs units (the `worker` command on BullMQ, a Kubernetes Indexed Job, a Lambda of a Step
 * Functions Distributed Map) saves it, and hands the unit back with it to go on from there after a crash.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import {
  type BatchWriteResult,
  type CapacityBudget,
  compileExpressions,
  type DeleteItemRequest,
  dynamoBatchDelete,
  dynamoBatchWrite,
  dynamoDelete,
  dynamoUpdate,
  type ItemWriteResult,
  type UpdateItemRequest,
} from '../index.js';
import type { StoredKey } from './checkpoint.js';
import { loadTransform } from './copyCommand.js';
import { DeadLetter, type DeadLetterRecord } from './deadLetter.js';
import { Job, type Outcome } from './job.js';
import { CallMeter } from './meter.js';
import type { Tally } from './progress.js';
import { parseJsonValue } from './json.js';
import { byteRanges, runImportUnit } from './importUnits.js';
import { runFileUnit } from './importFileUnits.js';
import { runDiffUnit } from './diffUnits.js';
import { runExportUnit } from './exportUnits.js';
import type { InputFormat } from './input.js';
import { keyOfItem, keyProjection, type ScanCheckpoint, scanInput } from './scanJob.js';
import { batchSink, itemSink, type ScanWrite, scanWrite, type Sink, type Transform } from './scanWrite.js';
import { recheckOf, updateSpecOf } from './updateCommand.js';
import { CliError, EXIT, type Session } from './session.js';

/** What a unit does besides its tables: the flags of `submit` that each unit needs. */
export interface UnitOptions {
  /** The target's key attribute names, partition key first (from DescribeTable at submit). */
  key: string[];
  /** An ES module (absolute path, present on every worker) whose default export is the transform. */
  transform?: string;
  /** Scan `Limit`: a smaller page moves the cursor more often. @default DynamoDB's 1 MB */
  pageSize?: number;
  /** A Scan `FilterExpression`: only matching items are copied (deleted). */
  filter?: string;
  /** `ExpressionAttributeNames` of the filter. */
  names?: Record<string, string>;
  /** `ExpressionAttributeValues` of the filter, as plain JSON text, every digit kept (`toJsonLine`). */
  values?: string;
  /** For `update`: attributes to SET and numbers to ADD (plain JSON text, every digit kept), paths to REMOVE. */
  update?: { set?: string; add?: string; remove?: string[] };
  /** BatchWriteItem calls in flight at once in this unit. @default 4 */
  concurrency?: number | 'adaptive';
  /** Capacity units per second of this unit alone (writes; reads separately), when no shared budget is given. */
  capacity?: number;
  /** For `import`: the file's size in bytes at submit; a worker that sees another size refuses the unit. */
  size?: number;
  /**
   * For a whole-file `import` unit (one without `range`): how to read its file, decided at submit (gzip is undone by
   * its magic bytes whatever the format). For `export`: the lines of each part file, `ndjson` or `dynamodb-json` (as
   * `export --format` writes them; exportUnits.ts). @default 'ndjson'
   */
  format?: InputFormat;
  /** For an `import` unit of a data file of a DynamoDB export: the items its manifest entry says the file holds. */
  itemCount?: number;
  /** For `diff`: the key attribute names of `from` (A), partition key first (`key` is `to`'s, B's). */
  fromKey?: string[];
}

/** One segment of a bulk job, as plain JSON. */
export interface WorkUnit {
  jobId: string;
  /**
   * `copy`: from `from` into `to`; `delete`, `update`: the items of `from` (`to` is the same table); `import`: the
   * lines of the NDJSON file `from` (an absolute path, readable at that same path on every worker) that start in
   * `range`, into `to`.
   */
  kind: 'copy' | 'delete' | 'update' | 'import' | 'export' | 'diff';
  from: string;
  to: string;
  segment: number;
  totalSegments: number;
  options: UnitOptions;
  /**
   * For `import`: the bytes `[start, end)` of the plain NDJSON file in which the unit's lines start. Absent: the unit
   * reads its whole file (gzipped, CSV, DynamoDB JSON: importFileUnits.ts).
   */
  range?: { start: number; end: number };
  /**
   * The segment's LastEvaluatedKey reached: every item before it is written or dead-lettered. For `import`, the byte
   * offset of the first line not settled, `{ offset: { N: '<digits>' } }`; for a whole-file `import` unit, the line up to which every
   * record is settled, `{ line: { N: '<digits>' } }`. Absent: the start.
   */
  cursor?: StoredKey;
  /** The whole segment is settled. */
  done?: boolean;
}

/** What a job is, before it is cut: `units` makes its segments. */
export type JobSpec = Omit<WorkUnit, 'segment' | 'cursor' | 'done' | 'range'>;

/** One unit of a job whose planner cuts it itself (an import of several files): its own file, range and options. */
export interface UnitPart {
  /** The unit's own input (for `import`: an absolute path). */
  from: string;
  /** For a byte-range `import` unit: its bytes of `from`. */
  range?: { start: number; end: number };
  /** Options of this unit alone (e.g. its file's `size` and `format`), over the job's. */
  options?: Partial<UnitOptions>;
}

/**
 * The units of a job, each from the start: one per segment (for `import`, per byte range of `options.size` bytes);
 * or, when the planner gives `parts` (one per unit, `totalSegments` of them), one per part, in their order.
 */
export function makeUnits(spec: JobSpec, parts?: readonly UnitPart[]): WorkUnit[] {
  const { totalSegments } = spec;
  if (!Number.isInteger(totalSegments) || totalSegments < 1 || totalSegments > 1_000_000)
    throw new RangeError(`totalSegments must be an integer from 1 to 1000000, got ${totalSegments}`);
  if (parts) {
    if (parts.length !== totalSegments) throw new RangeError(`${parts.length} unit parts for totalSegments ${totalSegments}`);
    return parts.map((part, segment) => ({
      ...spec,
      from: part.from,
      ...(part.range ? { range: part.range } : {}),
      options: { ...spec.options, ...part.options },
      segment,
    }));
  }
  switch (spec.kind) {
    case 'import':
      if (spec.options.size === undefined) throw new RangeError('an import job needs options.size, the size of its file in bytes');
      return byteRanges(spec.options.size, totalSegments).map((range, segment) => ({ ...spec, segment, range }));
    default:
      return Array.from({ length: totalSegments }, (_, segment) => ({ ...spec, segment }));
  }
}

/** A runner of the kinds of unit that do not scan one table into another (their own modules). */
type UnitRunner = (unit: WorkUnit, options: RunUnitOptions) => Promise<UnitResult>;

/** The runner of a kind that has its own; `undefined` for copy, delete and update (`runUnit` runs them). */
function runnerOf(kind: WorkUnit['kind']): UnitRunner | undefined {
  switch (kind) {
    case 'import':
      // a byte range of a plain NDJSON file, or a whole file (gzip, CSV, DynamoDB JSON)
      return (unit, options) => (unit.range ? runImportUnit(unit, options) : runFileUnit(unit, options));
    case 'export':
      return runExportUnit;
    case 'diff':
      return runDiffUnit;
    default:
      return undefined;
  }
}

/**
 * The checkpoint `scanWrite` runs a unit with: every other segment done, the unit's segment from its cursor (or
 * done). Its `segments` array is as long as `totalSegments`, so Scan gets the same `Segment` / `TotalSegments`.
 */
export function unitCheckpoint(unit: WorkUnit): ScanCheckpoint {
  const { segment, totalSegments } = unit;
  if (!Number.isInteger(segment) || segment < 0 || segment >= totalSegments)
    throw new RangeError(`segment must be an integer from 0 to ${totalSegments - 1}, got ${segment}`);
  const segments = Array.from({ length: totalSegments }, (_, i) =>
    i !== segment ? { done: true } : unit.done ? { done: true } : unit.cursor ? { startKey: unit.cursor, done: false } : { done: false },
  );
  return { command: unit.kind, table: unit.from, totalSegments, segments, complete: !!unit.done };
}

/** Where a unit stands: its cursor, or done. */
export interface UnitPosition {
  cursor?: StoredKey;
  done: boolean;
}

/** The unit moved on to `position`: a new value, the old one unchanged. */
export function advanceUnit(unit: WorkUnit, position: UnitPosition): WorkUnit {
  const { cursor: _old, done: _done, ...rest } = unit;
  return { ...rest, ...(position.cursor ? { cursor: position.cursor } : {}), ...(position.done ? { done: true } : {}) };
}

/** What a unit's run did. */
export interface UnitResult {
  outcome: Outcome;
  /** What the unit found worth saying that is not a failure (e.g. an export's data file not as its manifest says). */
  warnings?: string[];
  /** Items read, written, dead-lettered (`failed`), dropped by the transform (`skipped`). */
  tally: Tally;
  position: UnitPosition;
}

/** What `runUnit` runs with. */
export interface RunUnitOptions {
  client: DynamoDBClient;
  /** Aborting it stops the unit: calls in flight are aborted, the cursor stays at the last settled page. */
  signal?: AbortSignal;
  /** Told each time the cursor moves (a page settled), with the tally so far: save both, the cursor first. */
  onCursor?: (position: UnitPosition, tally: Tally) => void;
  /** Told, before the cursor moves past it, of each item not written (or dropped by a transform that threw). */
  onDeadLetter?: (record: DeadLetterRecord) => void;
  /** The transform itself, instead of loading `unit.options.transform`. */
  transform?: Transform;
  /**
   * Budgets shared with other units (other workers): `write` for the BatchWriteItem calls, `read` for the Scan's.
   * Without one, `unit.options.capacity` (if any) limits this unit alone.
   */
  capacity?: { read?: CapacityBudget; write?: CapacityBudget };
}

/** Dead letters handed to a callback instead of a file. */
class CallbackDeadLetter extends DeadLetter {
  constructor(private readonly sink: (record: DeadLetterRecord) => void) {
    super('(dead letters of a unit)', 'unit', true);
  }
  override write(record: DeadLetterRecord): void {
    this.sink(record);
    this.count++;
  }
}

/** A copy job whose dead letters go to a callback. */
class UnitJob extends Job {
  override readonly deadLetter: DeadLetter;
  constructor(unit: WorkUnit, onDeadLetter: (record: DeadLetterRecord) => void) {
    const { concurrency, capacity } = unit.options;
    super(
      unit.kind,
      { progress: false, ...(concurrency !== undefined ? { concurrency } : {}), ...(capacity !== undefined ? { capacity } : {}) },
      `${unit.kind}-${unit.jobId}-${unit.segment}`,
      new CallMeter(),
    );
    this.deadLetter = new CallbackDeadLetter(onDeadLetter);
  }
}

const position = (state: ScanCheckpoint, segment: number): UnitPosition => {
  const s = state.segments[segment]!;
  return s.done ? { done: true } : { ...(s.startKey ? { cursor: s.startKey } : {}), done: false };
};

/** The kinds of unit `runUnit` runs. */
export const KINDS: readonly WorkUnit['kind'][] = ['copy', 'delete', 'update', 'import', 'export', 'diff'];

/** A parsed copy of the unit's filter: its values back from their exact JSON text. */
type ScanFilter = { filter?: string; names?: Record<string, string>; values?: Record<string, unknown> };

/**
 * The write side of a unit: `dynamoBatchWrite` into `to` (copy); `dynamoBatchDelete` (delete of every item), or with a
 * filter one `dynamoDelete` per item whose condition is the filter again; one `dynamoUpdate` per item whose condition
 * is the filter again and that the item still exists (update) — as the `delete` and `update` commands do.
 */
function sinksOf(
  unit: WorkUnit,
  client: DynamoDBClient,
  job: Job,
  write: CapacityBudget | undefined,
  scan: ScanFilter,
): { batch: Sink<BatchWriteResult> } | { item: Sink<ItemWriteResult<DeleteItemRequest>> | Sink<ItemWriteResult<UpdateItemRequest>> } {
  const { key } = unit.options;
  const budget = write ? { capacity: write } : {};
  if (unit.kind === 'copy')
    return { batch: batchSink((link) => dynamoBatchWrite(client, unit.to, { ...job.writeOptions(key, link), ...budget })) };
  const condition = scan.filter ? { expression: scan.filter, names: scan.names, values: scan.values } : undefined;
  if (unit.kind === 'delete')
    return condition
      ? {
          item: itemSink(
            (item): DeleteItemRequest => ({ key: keyOfItem(item, key), condition }),
            (link) => dynamoDelete(client, unit.from, { ...job.itemWriteOptions(link), ...budget }),
          ),
        }
      : { batch: batchSink((link) => dynamoBatchDelete(client, unit.from, { ...job.writeOptions(key, link), ...budget })) };
  const { set, add, remove } = unit.options.update!;
  const parse = (text: string | undefined) => (text ? (parseJsonValue(text) as Record<string, unknown>) : undefined);
  const options = { table: unit.from, set: parse(set), add: parse(add), remove, ...scan };
  // one update and one condition for every item, compiled once
  const { UpdateExpression, ConditionExpression, ExpressionAttributeNames, ExpressionAttributeValues } = compileExpressions({
    update: updateSpecOf(options),
    condition: recheckOf(options, key[0]!),
  });
  const expressions = { UpdateExpression: UpdateExpression!, ConditionExpression, ExpressionAttributeNames, ExpressionAttributeValues };
  return {
    item: itemSink(
      (item): UpdateItemRequest => ({ key: keyOfItem(item, key), ...expressions }),
      (link) => dynamoUpdate(client, unit.from, { ...job.itemWriteOptions(link), ...budget }),
    ),
  };
}

/**
 * Runs one unit from its cursor: scans its segment of `from` (from `cursor`), transforms, writes into `to`. Items
 * that fail go to `onDeadLetter`; the cursor moves (`onCursor`) past a page once each of its items is written or
 * dead-lettered. A failure every request would meet (no table, no access) rejects with a `CliError`, the cursor
 * before the unsettled items. Resolves with `outcome: 'interrupted'` when `signal` aborts it. An `import` unit reads
 * the lines of its byte range instead, its cursor a byte offset (`runImportUnit`, importUnits.ts), or, without a
 * range, its whole file, its cursor a line number (`runFileUnit`, importFileUnits.ts).
 *
 * ## Example
 * ```ts
 * import { runUnit } from 'rxjs-dynamodb/units';
 * const result = await runUnit(unit, { client, signal, onCursor: (p) => save({ ...unit, ...p }) });
 * ```
 *
 * @param unit The unit, with the cursor saved last (absent: from the start of its segment).
 * @param options The client, the signal that stops it, and where the cursor and dead letters go.
 * @returns How it ended, its tally, and where it stands (`{ done: true }` when its segment is finished).
 */
export async function runUnit(unit: WorkUnit, options: RunUnitOptions): Promise<UnitResult> {
  if (!KINDS.includes(unit.kind)) throw new CliError(`unit kind ${String(unit.kind)} is not supported (${KINDS.join(', ')})`, EXIT.usage);
  const runner = runnerOf(unit.kind);
  if (runner) return runner(unit, options);
  const state = unitCheckpoint(unit);
  const deadLetters = options.onDeadLetter ?? (() => undefined);
  const job = new UnitJob(unit, deadLetters);
  if (unit.done) return { outcome: 'complete', tally: job.tally, position: { done: true } };
  const transform = options.transform ?? (unit.options.transform ? await loadTransform(unit.options.transform) : undefined);
  const session: Session = { client: options.client, signal: options.signal ?? new AbortController().signal, meter: new CallMeter() };
  const write = options.capacity?.write;
  const { key, pageSize, filter, names } = unit.options;
  if (unit.kind === 'update' && !unit.options.update)
    throw new CliError('an update unit needs options.update (set, add, remove)', EXIT.usage);
  const scan = {
    pageSize,
    filter,
    names,
    values: unit.options.values ? (parseJsonValue(unit.options.values) as Record<string, unknown>) : undefined,
  };
  const spec: ScanWrite = {
    session,
    job,
    // a delete or an update reads the key attributes alone
    input: scanInput(unit.from, scan, unit.kind !== 'copy' ? keyProjection(key) : {}),
    state,
    ...(options.capacity?.read ? { readCapacity: options.capacity.read } : { unitsPerSecond: unit.options.capacity }),
    onCheckpoint: (s) => options.onCursor?.(position(s, unit.segment), job.tally),
    ...(transform && unit.kind === 'copy' ? { transform } : {}),
  };
  const sinks = sinksOf(unit, options.client, job, write, scan);
  const outcome =
    'batch' in sinks ? await scanWrite(spec, sinks.batch) : await scanWrite(spec, sinks.item as Sink<ItemWriteResult<object>>);
  job.stop();
  return { outcome, tally: job.tally, position: position(state, unit.segment) };
}
