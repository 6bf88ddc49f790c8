/**
 * The pipeline `copy`, `delete` and `update` share: scan (segments side by side, from the checkpoint) → an optional
 * transform → a write operator, with one backpressure link from the scan to the writer. Items a transform drops are
 * released on the link; items that fail go to the dead-letter file; items whose write found its condition false
 * (changed since the scan) are skipped and counted. A segment's checkpoint moves past a page once each of its items
 * is written, dead-lettered, skipped or dropped. `--dry-run` scans and checks the same items and writes nothing.
 */
import { concatMap, filter, from, map, mergeMap, type OperatorFunction } from 'rxjs';
import {
  type Backpressure,
  backpressure,
  type BatchWriteResult,
  type CapacityBudget,
  type Item,
  type ItemWriteResult,
  type QueryInput,
  type ScanInput,
  type WriteRequest,
} from '../index.js';
import type { CheckpointFile } from './checkpoint.js';
import { describeError } from './deadLetter.js';
import type { Job, Outcome } from './job.js';
import { Plan, checkItem } from './plan.js';
import { CliError, runToEnd, type Session } from './session.js';
import { PageTracker, type ScanCheckpoint, scanSegments, type SegmentPage } from './scanJob.js';
import type { TableKey } from './table.js';

/** A copy's transform: the item to write, or `undefined` (or `null`) to drop it; may return a Promise. */
export type Transform = (item: Item) => unknown;

/** What a scan-to-write job is made of. */
export interface ScanWrite {
  session: Session;
  job: Job;
  input: ScanInput | QueryInput;
  state: ScanCheckpoint;
  file?: CheckpointFile<ScanCheckpoint>;
  unitsPerSecond?: number;
  /** The scan's read budget, in place of one of `unitsPerSecond` (a budget shared across processes). */
  readCapacity?: CapacityBudget;
  /** Told each time a segment's checkpoint moves (as `file` is), for checkpoints kept elsewhere than in a file. */
  onCheckpoint?: (state: ScanCheckpoint) => void;
  transform?: Transform;
}

type Taken = { page: SegmentPage; item: Item };

/**
 * A transform's answer as an item: `undefined` (or `null`) drops the item; anything but an object is refused with a
 * TypeError saying what it was. `copy`, `migrate`'s replay and `diff` read a transform's answer through it.
 */
export function transformedItem(out: unknown): Item | undefined {
  if (out === undefined || out === null) return undefined;
  if (typeof out !== 'object' || Array.isArray(out))
    throw new TypeError(`the transform returned ${Array.isArray(out) ? 'an array' : typeof out}, not an item (an object) or undefined`);
  return out as Item;
}

/** Applies the transform; `undefined` when the item is dropped or fails (both settled here). */
async function transformed(spec: ScanWrite, taken: Taken, drop: (taken: Taken) => void, fail: (taken: Taken, error: unknown) => void) {
  let out: Item | undefined;
  try {
    out = transformedItem(await spec.transform!(taken.item));
  } catch (error) {
    fail(taken, error);
    return undefined;
  }
  if (out === undefined) {
    spec.job.tally.skipped++;
    drop(taken);
  }
  return out;
}

/** What becomes of the items a write operator's result speaks of, told to the job by `Sink.settle`. */
export interface Settle {
  written(item: Item): void;
  /** The write's condition was false: the item changed (or went) since the scan. */
  skipped(item: Item): void;
  failed(item: Item, error: unknown): void;
}

/** A write operator, and how to read its results item by item. */
export interface Sink<R> {
  operator(link: Backpressure): OperatorFunction<Item, R>;
  settle(result: R, job: Job, settle: Settle): void;
}

/** `dynamoBatchWrite` / `dynamoBatchDelete`: one result per batch, written or failed. */
export function batchSink(operator: (link: Backpressure) => OperatorFunction<Item, BatchWriteResult>): Sink<BatchWriteResult> {
  const item = (request: WriteRequest) => ('put' in request ? request.put : request.delete);
  return {
    operator,
    settle: (result, job, settle) =>
      job.results(
        result,
        (request) => settle.written(item(request)),
        (request, error) => settle.failed(item(request), error),
      ),
  };
}

/**
 * `dynamoUpdate` / `dynamoDelete` fed with one request per item (`requestOf`): one result per item — written,
 * skipped (its condition was false), or failed.
 */
export function itemSink<R extends object>(
  requestOf: (item: Item) => R,
  operator: (link: Backpressure) => OperatorFunction<R, ItemWriteResult<R>>,
): Sink<ItemWriteResult<R>> {
  const items = new WeakMap<R, Item>();
  return {
    operator: (link) => (source) =>
      source.pipe(
        map((item) => {
          const request = requestOf(item);
          items.set(request, item);
          return request;
        }),
        operator(link),
      ),
    settle: (result, job, settle) => job.itemResult(result, items.get(result.request)!, settle),
  };
}

/** Runs the job: every item scanned is written (by `sink`), skipped, dead-lettered, or dropped by the transform. */
export async function scanWrite<R>(spec: ScanWrite, sink: Sink<R>): Promise<Outcome> {
  const { session, job, state, file } = spec;
  const link = backpressure({ highWaterMark: 10_000 });
  const tracker = new PageTracker(state, (s) => {
    file?.update(s);
    spec.onCheckpoint?.(s);
  });
  /** The page each item came from: the write operators hand back the very objects they were given. */
  const origin = new WeakMap<Item, SegmentPage>();
  const settle = (taken: Taken) => {
    link.release(1);
    tracker.settle(taken.page);
  };
  const fail = (taken: Taken, error: unknown) => {
    job.tally.failed++;
    job.deadLetter.write({ segment: taken.page.segment, error: describeError(error), item: taken.item });
    settle(taken);
  };
  const own = (item: Item, page: SegmentPage): Item => {
    const mine = origin.has(item) ? { ...item } : item; // a transform that returns one object twice
    origin.set(mine, page);
    return mine;
  };

  const pipeline = scanSegments(session.client, spec.input, state, {
    backpressure: link,
    unitsPerSecond: spec.unitsPerSecond,
    ...(spec.readCapacity ? { capacity: spec.readCapacity } : {}),
  }).pipe(
    mergeMap((page) => {
      tracker.add(page);
      job.tally.read += page.page.items.length;
      job.update();
      return page.page.items.map((item): Taken => ({ page, item }));
    }),
    spec.transform
      ? concatMap((taken) =>
          from(transformed(spec, taken, settle, fail)).pipe(
            filter((out): out is Item => out !== undefined),
            map((out) => own(out, taken.page)),
          ),
        )
      : map((taken) => own(taken.item, taken.page)),
    sink.operator(link),
  );
  const settled: Settle = {
    written: (item) => tracker.settle(origin.get(item)!),
    skipped: (item) => tracker.settle(origin.get(item)!),
    failed: (item, error) => {
      const page = origin.get(item)!;
      job.deadLetter.write({ segment: page.segment, error: describeError(error), item });
      tracker.settle(page);
    },
  };
  try {
    return await runToEnd(pipeline, session.signal, (result) => sink.settle(result, job, settled));
  } catch (error) {
    throw new CliError(`${job.command} stopped: ${(error as Error).message}${file ? `; rerun with --resume ${file.path} to go on` : ''}`);
  } finally {
    file?.flush();
  }
}

/** `--dry-run`: scans, transforms and checks every item against the target's key and the 400 KB limit; writes nothing. */
export async function planScanWrite(
  spec: ScanWrite,
  key: TableKey,
  perItem?: 'UpdateItem' | 'DeleteItem',
): Promise<{ outcome: Outcome; plan: Plan }> {
  const { session, job, state } = spec;
  const plan = new Plan(perItem);
  const check = (segment: number, out: unknown) => {
    if (out === undefined || out === null) return void job.tally.skipped++;
    const { problem, size } = checkItem(out, key);
    if (problem === undefined) return plan.add(size);
    plan.invalid++;
    job.deadLetter.write({ segment, error: { message: problem }, item: out });
  };
  const pages = scanSegments(session.client, spec.input, state, { unitsPerSecond: spec.unitsPerSecond });
  const outcome = await runToEnd(
    pages.pipe(
      concatMap(async (page) => {
        plan.scanCalls++;
        job.tally.read += page.page.items.length;
        for (const item of page.page.items) {
          try {
            check(page.segment, spec.transform ? await spec.transform(item) : item);
          } catch (error) {
            plan.invalid++;
            job.deadLetter.write({
              segment: page.segment,
              error: { message: `the transform threw: ${describeError(error).message}` },
              item,
            });
          }
        }
        job.update();
      }),
    ),
    session.signal,
  );
  job.stop();
  return { outcome, plan };
}
