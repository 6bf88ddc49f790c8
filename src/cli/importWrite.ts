/**
 * The one write pipeline of `import`, of byte-range import units (importUnits.ts) and of whole-file import units
 * (importFileUnits.ts): input records → bad ones dead-lettered → `dynamoBatchWrite`, each record settling in a ledger
 * whose line is the checkpoint (or cursor), dead letters told in input order as the ledger passes them.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { map, tap } from 'rxjs';
import { backpressure, type CapacityBudget, dynamoBatchWrite, fromAsyncIterable, type Item, type WriteRequest } from '../index.js';
import type { LineSpan, SettledLines } from './checkpoint.js';
import { type DeadLetterRecord, describeError } from './deadLetter.js';
import type { InputRecord, ReadState } from './input.js';
import { Job, type Outcome } from './job.js';
import { CallMeter } from './meter.js';
import { runToEnd } from './session.js';
import type { RunUnitOptions, UnitPosition, UnitResult, WorkUnit } from './units.js';

const put = (request: WriteRequest) => ('put' in request ? request.put : request.delete);

/** What {@link writeRecords} writes with. */
export interface RecordWrite {
  client: DynamoDBClient;
  /** The table written into. */
  table: string;
  /** Its tally counts the items written and failed (bad records included); its options give the concurrency. */
  job: Job;
  /** The table's key attribute names, partition key first. */
  key: string[];
  /** The records' settling: each record read is added, and settled once written or dead-lettered. */
  ledger: SettledLines;
  /** The reader's state: at the end, every line read is settled (`ledger.finish`). */
  read: ReadState;
  /** Aborting it stops the writing: resolves `'interrupted'`, the ledger before what is in flight. */
  signal: AbortSignal;
  /** A budget for the BatchWriteItem calls instead of the job's own `capacity`. @default the job's */
  capacity?: CapacityBudget;
  /** Told of each record as it is read, before it is written or dead-lettered. @default nothing */
  onRecord?: (record: InputRecord) => void;
  /**
   * Told of each bad record and of each item not written (with its error), in input order, when the ledger passes it
   * and before `onSettled` is told.
   */
  deadLetter: (record: InputRecord | undefined, error: DeadLetterRecord['error'], item?: Item) => void;
  /** Told each time the ledger's line moves (a prefix of records settled): save the cursor. @default nothing */
  onSettled?: () => void;
}

/**
 * Dead letters held until the ledger passes their records, then handed out in input order. A bad line is read (and
 * an item may fail) ahead of the cursor; told at once, it would be told again by a run that goes on from a cursor
 * before it (the run was stopped before the cursor got there). Told as the cursor passes it, each is told once.
 */
export class InOrder {
  /** Records with a dead letter not told yet, by `endLine`. */
  private readonly held: Array<{ endLine: number; tell: () => void }> = [];

  /** Holds `tell` until `through` passes the record's last line. */
  add(record: LineSpan, tell: () => void): void {
    let i = this.held.length;
    while (i > 0 && this.held[i - 1]!.endLine > record.endLine) i--; // failures come in any order; bad lines in order
    this.held.splice(i, 0, { endLine: record.endLine, tell });
  }

  /** Tells, in order, the dead letters of the records that end at or before `line`. */
  through(line: number): void {
    let n = 0;
    while (n < this.held.length && this.held[n]!.endLine <= line) n++;
    for (const { tell } of this.held.splice(0, n)) tell();
  }

  /** Dead letters held. */
  get size(): number {
    return this.held.length;
  }
}

/**
 * Writes input records into a table — the one write pipeline of `import`, of byte-range units and of whole-file
 * units: records → (bad ones dead-lettered) → `dynamoBatchWrite`, with one backpressure link from the writes back
 * to the reading, so memory stays flat for any input. Each record settles (`ledger`) once its item is written or
 * dead-lettered; `onSettled` is told each time the ledger moves, so a cursor never passes an item in flight. Dead
 * letters are told in input order as the ledger passes them ({@link InOrder}), so a run stopped and run again from
 * its cursor tells each once.
 *
 * @param records The records, in input order (`readRecords`).
 * @param options Where to write, the ledger and the callbacks.
 * @returns `'complete'` (every line read settled: `ledger.finish`) or `'interrupted'` (the signal). Rejects with the
 *   error that stopped the job (a failure every request would meet, a read error); the ledger stays before the
 *   unsettled records.
 */
export async function writeRecords(records: AsyncIterable<InputRecord>, options: RecordWrite): Promise<Outcome> {
  const { job, ledger, read } = options;
  const letters = new InOrder();
  const settle = (record: InputRecord | undefined) => {
    if (!record || !ledger.settle(record)) return;
    letters.through(ledger.line); // the dead letters the ledger passed, before the cursor moves past them
    options.onSettled?.();
  };
  /** The record each item came from: the operator hands back the very objects it was given. */
  const origin = new WeakMap<Item, InputRecord>();
  const link = backpressure({ highWaterMark: 10_000 });
  const budget = options.capacity ? { capacity: options.capacity } : {};
  const pipeline = fromAsyncIterable(records, { backpressure: link }).pipe(
    tap((record) => {
      ledger.add(record);
      options.onRecord?.(record);
    }),
    link.filter((record) => {
      if (record.error === undefined) return true;
      letters.add(record, () => {
        job.tally.failed++;
        options.deadLetter(record, { name: 'InputError', message: record.error! });
      });
      settle(record);
      return false;
    }),
    map((record) => {
      origin.set(record.item!, record);
      return record.item!;
    }),
    dynamoBatchWrite(options.client, options.table, { ...job.writeOptions(options.key, link), ...budget }),
  );
  const outcome = await runToEnd(pipeline, options.signal, (result) =>
    job.results(
      result,
      (request) => settle(origin.get(put(request))),
      (request, error) => {
        const record = origin.get(put(request));
        const letter = () => options.deadLetter(record, describeError(error), put(request));
        if (record) letters.add(record, letter);
        else letter();
        settle(record);
      },
    ),
  );
  if (outcome === 'complete') {
    letters.through(Number.POSITIVE_INFINITY); // every record is settled: none is held (this is only a safeguard)
    ledger.finish(read.lastLine);
  }
  return outcome;
}

/** The job of an import unit: its tally, with the unit's own concurrency and capacity, and no progress line. */
export function importUnitJob(unit: WorkUnit): Job {
  const { concurrency, capacity } = unit.options;
  return new Job(
    'import',
    { progress: false, ...(concurrency !== undefined ? { concurrency } : {}), ...(capacity !== undefined ? { capacity } : {}) },
    `import-${unit.jobId}-${unit.segment}`,
    new CallMeter(),
  );
}

/** What an import unit's runner hands {@link writeUnit}: its records, ledger and dead letters, and where it stands. */
export interface UnitRecords extends Pick<RecordWrite, 'job' | 'ledger' | 'read' | 'deadLetter' | 'onSettled'> {
  records: AsyncIterable<InputRecord>;
  /** Where the unit stands while it runs (its cursor). */
  position: () => UnitPosition;
}

/**
 * Writes an import unit's records into `unit.to` with {@link writeRecords}: the shared write budget if there is one,
 * each record counted as read, `options.signal` to stop. Resolves with the unit's result: done, or interrupted at its
 * cursor; rejects as `writeRecords` does.
 */
export async function writeUnit(unit: WorkUnit, options: RunUnitOptions, parts: UnitRecords): Promise<UnitResult> {
  const { job, records, position, ...rest } = parts;
  const outcome = await writeRecords(records, {
    ...rest,
    job,
    client: options.client,
    table: unit.to,
    key: unit.options.key,
    signal: options.signal ?? new AbortController().signal,
    ...(options.capacity?.write ? { capacity: options.capacity.write } : {}),
    onRecord: () => job.tally.read++,
  });
  return { outcome, tally: job.tally, position: outcome === 'interrupted' ? position() : { done: true } };
}
