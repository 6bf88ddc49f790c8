/**
 * Diff units: `rxjs-dynamodb submit diff --from A --to B --segments N` cut into N work units, run by any number of
 * workers, summed up by `rxjs-dynamodb status`. Unit `s` does two things, one after the other:
 *
 * ```
 * phase A: scan segment s of A --a--b--c--|   > transform > BatchGetItem in B > compare exactly (diff.ts)
 * phase B: scan segment s of B --x--y--|      > keys only > BatchGetItem in A > not there: extra in B
 * cursor:  {phase A} ... {phase A, key.…} ... {phase B} ... {phase B, key.…} ... done
 * ```
 *
 * Every key of A is in exactly one segment of A and every key of B in exactly one of B, so each difference is found
 * by exactly one unit. With a transform, B cannot be mapped back to A: phase B counts B's items (Scan Select COUNT)
 * and `status` reports `extra = items of B - items of A found in B` once every unit is done, without keys (as `diff`).
 *
 * The cursor moves past a page once each of its items is compared, and only then are the page's differences handed to
 * `onDeadLetter` and its counts added to the tally: the tally a worker saves with a cursor counts exactly the pages
 * before it, so a unit that goes on from its cursor (its worker died) counts nothing twice. A difference is a JSON
 * record ({@link DiffRecord}) with the key kept exactly (`{ "pk": { "N": "<every digit>" } }`, binary as base64).
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { concatMap, from, map, mergeMap, type Observable, of } from 'rxjs';
import {
  backpressure,
  type Backpressure,
  capacity,
  type CapacityBudget,
  dynamoLookup,
  dynamoScanPages,
  type Item,
  type Key,
  type Lookup,
  type Page,
  type ScanInput,
} from '../index.js';
import { loadKey, type StoredKey, storeKey } from './checkpoint.js';
import { loadTransform } from './copyCommand.js';
import type { DeadLetterRecord } from './deadLetter.js';
import {
  differingAttributes,
  type Expected,
  expectationOf,
  HIGH_WATER_MARK,
  storedAttributes,
  tableKeys,
  transformAnswer,
} from './diff.js';
import { READ_UNITS } from './meter.js';
import { keyOfItem, keyProjection } from './scanJob.js';
import type { Transform } from './scanWrite.js';
import { CliError, EXIT, runToEnd } from './session.js';
import type { UnitStatus, summarize } from './statusCommand.js';
import type { Planner } from './submitCommand.js';
import { refuseFlags } from './submitFlags.js';
import type { JobRecord, UnitTally } from './unitQueue.js';
import type { RunUnitOptions, UnitPosition, UnitResult, WorkUnit } from './units.js';

/** The kinds of difference, as `diff --json` names them. */
export type DifferenceKind = 'missing' | 'different' | 'extra' | 'failed';

/**
 * One difference, as it goes to the unit's Redis list (one JSON line). `key` is B's key, except for `failed` (A's:
 * the item of A that could not be compared). `error.message` says it in words, for whoever lists dead letters.
 */
export type DiffRecord = DeadLetterRecord & {
  kind: DifferenceKind;
  key: StoredKey;
  /** For `different`: the top-level attributes that differ, sorted. */
  attributes?: string[];
  segment: number;
};

/** What a diff unit counts (its tally's `counts`); `status` sums them over runs and units. */
export interface DiffCounts {
  /** Items of A read (also the tally's `read`). */
  read: number;
  /** Items looked up in B. */
  compared: number;
  /** Of those, found in B. */
  found: number;
  missing: number;
  different: number;
  /** Items of B with no item in A (none counted with a transform: see `toRead`). */
  extra: number;
  /** Items of A that could not be compared (also the tally's `failed`). */
  failed: number;
  /** Items of A the transform maps to nothing (also the tally's `skipped`). */
  dropped: number;
  /** Items of B read (counted, with a transform). */
  toRead: number;
}

const zero = (): DiffCounts => ({ read: 0, compared: 0, found: 0, missing: 0, different: 0, extra: 0, failed: 0, dropped: 0, toRead: 0 });

/** Where a diff unit stands: the phase, and the segment's LastEvaluatedKey in it (absent: the phase's start). */
export interface DiffCursor {
  phase: 'A' | 'B';
  startKey?: StoredKey;
}

/** The key attributes of a cursor go under `key.<name>`, so that no attribute name can clash with `phase`. */
const KEY_PREFIX = 'key.';

/** A diff cursor as a unit's `cursor`: `{ "phase": { "S": "A" }, "key.pk": { "N": "…" } }`. */
export function storeDiffCursor(cursor: DiffCursor): StoredKey {
  const stored: StoredKey = { phase: { S: cursor.phase } };
  for (const [name, value] of Object.entries(cursor.startKey ?? {})) stored[KEY_PREFIX + name] = value;
  return stored;
}

/** A unit's `cursor` back as a diff cursor (absent: phase A from its start); one that is not one is refused, named. */
export function loadDiffCursor(stored: StoredKey | undefined, where: string): DiffCursor {
  if (stored === undefined) return { phase: 'A' };
  const phase = (stored.phase as { S?: unknown } | undefined)?.S;
  const names = Object.keys(stored).filter((n) => n !== 'phase');
  if ((phase !== 'A' && phase !== 'B') || names.some((n) => !n.startsWith(KEY_PREFIX)))
    throw new CliError(
      `${where}: the cursor of a diff unit must be { "phase": { "S": "A" | "B" }, "key.<name>": … }, got ${JSON.stringify(stored)}`,
      EXIT.usage,
    );
  if (names.length === 0) return { phase };
  return { phase, startKey: Object.fromEntries(names.map((n) => [n.slice(KEY_PREFIX.length), stored[n]!])) };
}

/** A page of a phase whose items are not all compared yet, with what they found so far. */
export interface PendingPage {
  remaining: number;
  lastEvaluatedKey?: Key;
  counts: DiffCounts;
  records: DiffRecord[];
}

/**
 * Moves a phase's cursor over its pages in order, each once every item of it and of every page before it is settled:
 * the plain decision of the runner. `onSettled` is told of each page settled (in page order), then `onMoved` once
 * with the last one's LastEvaluatedKey (`undefined`: the segment is finished).
 */
export class PageLedger {
  private readonly queue: PendingPage[] = [];

  constructor(
    private readonly onSettled: (page: PendingPage) => void,
    private readonly onMoved: (lastEvaluatedKey: Key | undefined) => void,
  ) {}

  /** A page as it comes, with its item count and what it counts already; settled at once when it has no items. */
  add(items: number, lastEvaluatedKey: Key | undefined, counts: Partial<DiffCounts> = {}): PendingPage {
    const page: PendingPage = {
      remaining: items,
      ...(lastEvaluatedKey ? { lastEvaluatedKey } : {}),
      counts: { ...zero(), ...counts },
      records: [],
    };
    this.queue.push(page);
    if (items === 0) this.advance();
    return page;
  }

  /** One item of `page` is settled (compared, dropped or failed), its counts and records in the page already. */
  settle(page: PendingPage): void {
    page.remaining--;
    if (page.remaining <= 0) this.advance();
  }

  private advance(): void {
    let last: PendingPage | undefined;
    while (this.queue.length > 0 && this.queue[0]!.remaining <= 0) {
      last = this.queue.shift()!;
      this.onSettled(last);
    }
    if (last) this.onMoved(last.lastEvaluatedKey);
  }
}

/** What one run of a diff unit works with. */
interface DiffRun {
  unit: WorkUnit;
  client: DynamoDBClient;
  fromKey: string[];
  toKey: string[];
  transform?: Transform;
  budget?: CapacityBudget;
  signal: AbortSignal;
}

/** The Scan input of a unit's segment of `table`, with more (a projection, Select COUNT) when asked. */
function segmentInput(unit: WorkUnit, table: string, extra: Partial<ScanInput> = {}): ScanInput {
  const { segment, totalSegments } = unit;
  const { pageSize } = unit.options;
  return {
    TableName: table,
    ...extra,
    ...READ_UNITS,
    ...(totalSegments > 1 ? { Segment: segment, TotalSegments: totalSegments } : {}),
    ...(pageSize ? { Limit: pageSize } : {}),
  };
}

/** The pages of the unit's segment of `table`, from `startKey`. */
function pagesOf(run: DiffRun, input: ScanInput, startKey: StoredKey | undefined, link?: Backpressure): Observable<Page> {
  const where = `the cursor of diff unit ${run.unit.segment} of ${run.unit.jobId}`;
  return dynamoScanPages(run.client, input, {
    ...(startKey ? { startKey: loadKey(startKey, where) } : {}),
    ...(link ? { backpressure: link } : {}),
    ...(run.budget ? { capacity: run.budget } : {}),
  });
}

/** `dynamoLookup` into `table` by `keyAttributes`, reading `projection` alone when given. */
function lookupIn(run: DiffRun, table: string, keyAttributes: string[], link: Backpressure, projection?: string[]) {
  const { concurrency } = run.unit.options;
  return dynamoLookup(run.client, table, {
    keyAttributes,
    backpressure: link,
    ...(projection ? { projection } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(run.budget ? { capacity: run.budget } : {}),
  });
}

/** A difference on a page: recorded there, handed on once the page is settled. */
function record(run: DiffRun, page: PendingPage, kind: DifferenceKind, key: Key, message: string, attributes?: string[]): void {
  page.counts[kind]++;
  const { segment } = run.unit;
  page.records.push({ kind, key: storeKey(key), ...(attributes ? { attributes } : {}), segment, error: { name: 'Difference', message } });
}

/** Phase A: the unit's segment of A, each item looked up in B and compared exactly. */
function compareSegment(run: DiffRun, ledger: PageLedger, startKey: StoredKey | undefined): Observable<unknown> {
  const { unit, transform, toKey, fromKey } = run;
  const link = backpressure({ highWaterMark: HIGH_WATER_MARK });
  const pending = new WeakMap<Key, { page: PendingPage; expected: Expected }>();
  /** What B should hold for an item, or `undefined` when there is nothing to look up (dropped, failed: settled). */
  const judge = (item: Item, page: PendingPage, answer: { out: unknown } | { threw: string }) => {
    const expectation = 'out' in answer ? expectationOf(answer.out, unit.to, toKey) : { error: answer.threw };
    if ('expected' in expectation) return { page, expected: expectation.expected };
    if ('dropped' in expectation) page.counts.dropped++;
    else record(run, page, 'failed', keyOfItem(item, fromKey), `cannot be compared (key of ${unit.from}): ${expectation.error}`);
    ledger.settle(page);
    return undefined;
  };
  return pagesOf(run, segmentInput(unit, unit.from), startKey, link).pipe(
    mergeMap((page) => {
      const p = ledger.add(page.items.length, page.lastEvaluatedKey, { read: page.items.length });
      return page.items.map((item) => ({ item, page: p }));
    }),
    // a transform may be async: one item at a time, in order; without one, no Promise per item
    transform
      ? concatMap(({ item, page }) => from(transformAnswer(transform, item)).pipe(map((answer) => judge(item, page, answer))))
      : map(({ item, page }) => judge(item, page, { out: item })),
    link.filter((e) => e !== undefined),
    map((e) => {
      pending.set(e!.expected.key, e!);
      return e!.expected.key;
    }),
    lookupIn(run, unit.to, toKey, link),
    map((lookup: Lookup) => {
      const { page, expected } = pending.get(lookup.key)!;
      pending.delete(lookup.key);
      page.counts.compared++;
      if (lookup.item === undefined) record(run, page, 'missing', lookup.key, `missing from ${unit.to}`);
      else {
        page.counts.found++;
        const differing = differingAttributes(expected.attributes!, storedAttributes(lookup.item));
        if (differing.length > 0) record(run, page, 'different', lookup.key, `different in ${unit.to}: ${differing.join(', ')}`, differing);
      }
      ledger.settle(page);
    }),
  );
}

/** Phase B: the unit's segment of B, each key looked up in A (without a transform), or only counted (with one). */
function extrasOfSegment(run: DiffRun, ledger: PageLedger, startKey: StoredKey | undefined): Observable<unknown> {
  const { unit, fromKey, toKey } = run;
  if (run.transform)
    return pagesOf(run, segmentInput(unit, unit.to, { Select: 'COUNT' }), startKey).pipe(
      mergeMap((page) => {
        // no items on a COUNT page: counted, and settled as it is added
        ledger.add(0, page.lastEvaluatedKey, { toRead: page.count });
        return of(undefined);
      }),
    );
  const link = backpressure({ highWaterMark: HIGH_WATER_MARK });
  const pages = new WeakMap<Key, PendingPage>();
  return pagesOf(run, segmentInput(unit, unit.to, keyProjection(toKey)), startKey, link).pipe(
    mergeMap((page) => {
      const p = ledger.add(page.items.length, page.lastEvaluatedKey, { toRead: page.items.length });
      return page.items.map((item) => {
        const key = keyOfItem(item, toKey);
        pages.set(key, p);
        return key;
      });
    }),
    lookupIn(run, unit.from, fromKey, link, fromKey),
    map((lookup: Lookup) => {
      const page = pages.get(lookup.key)!;
      if (lookup.item === undefined) record(run, page, 'extra', lookup.key, `extra in ${unit.to}: no such item in ${unit.from}`);
      ledger.settle(page);
    }),
  );
}

/** The unit's tally from its counts: `read` items of A, `failed` not compared, `skipped` dropped by the transform. */
const tallyOf = (counts: DiffCounts): UnitTally => ({
  read: counts.read,
  done: counts.read + counts.toRead,
  written: 0,
  failed: counts.failed,
  skipped: counts.dropped,
  counts: { ...counts },
});

/**
 * Runs one diff unit from its cursor: compares segment `unit.segment` of `unit.from` (A) with `unit.to` (B), then
 * finds B's extras in segment `unit.segment` of B (see the module's comment). Each difference goes to `onDeadLetter`
 * ({@link DiffRecord}) just before the cursor moves past its page (`onCursor`, with the tally of the pages settled).
 * Differences are the unit's result, never a failure: a unit that compared its whole segment is done. A failure
 * every request would meet (no table, no access) rejects with a `CliError` (exit 3), the cursor before the pages not
 * compared; `signal` stops it (`outcome: 'interrupted'`) at its cursor.
 *
 * @param unit A diff unit (`submit diff`), with the cursor saved last (absent: from the start of phase A).
 * @param options As for `runUnit`: the client, the signal, where the cursor and the differences go, read budgets.
 * @returns How it ended, its tally (`counts`: {@link DiffCounts}), and where it stands.
 */
export async function runDiffUnit(unit: WorkUnit, options: RunUnitOptions): Promise<UnitResult> {
  const where = `diff unit ${unit.segment} of ${unit.jobId}`;
  const fromKey = unit.options.fromKey;
  if (!fromKey || fromKey.length === 0) throw new CliError(`${where} needs options.fromKey, the key of ${unit.from}`, EXIT.usage);
  const totals = zero();
  if (unit.done) return { outcome: 'complete', tally: tallyOf(totals), position: { done: true } };
  let cursor = loadDiffCursor(unit.cursor, where);
  const transform = options.transform ?? (unit.options.transform ? await loadTransform(unit.options.transform) : undefined);
  const unitsPerSecond = unit.options.capacity;
  const run: DiffRun = {
    unit,
    client: options.client,
    fromKey,
    toKey: unit.options.key,
    ...(transform ? { transform } : {}),
    budget: options.capacity?.read ?? (unitsPerSecond ? capacity({ unitsPerSecond }) : undefined),
    signal: options.signal ?? new AbortController().signal,
  };
  // the position saved before any page moved it: where this run started
  let position: UnitPosition = unit.cursor ? { cursor: unit.cursor, done: false } : { done: false };
  const settled = (page: PendingPage) => {
    for (const r of page.records) options.onDeadLetter?.(r);
    for (const k of Object.keys(totals) as Array<keyof DiffCounts>) totals[k] += page.counts[k];
  };
  const phases = [
    { phase: 'A' as const, scan: compareSegment, doing: `comparing ${unit.from} with ${unit.to}` },
    { phase: 'B' as const, scan: extrasOfSegment, doing: `looking for the extras of ${unit.to}` },
  ];
  for (const { phase, scan, doing } of phases.filter((p) => p.phase >= cursor.phase)) {
    const moved = (key: Key | undefined) => {
      // the end of phase A is the start of phase B; the end of phase B, the end of the unit
      position = key
        ? { cursor: storeDiffCursor({ phase, startKey: storeKey(key) }), done: false }
        : phase === 'A'
          ? { cursor: storeDiffCursor({ phase: 'B' }), done: false }
          : { done: true };
      options.onCursor?.(position, tallyOf(totals));
    };
    let outcome;
    try {
      outcome = await runToEnd(scan(run, new PageLedger(settled, moved), cursor.startKey), run.signal);
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError(
        `${where} stopped ${doing}: ${(error as Error)?.message ?? String(error)}; every page before its cursor is compared`,
      );
    }
    if (outcome === 'interrupted') return { outcome, tally: tallyOf(totals), position };
    cursor = { phase: 'B' };
  }
  return { outcome: 'complete', tally: tallyOf(totals), position: { done: true } };
}

/** Two tables' keys are the same: the same names, in the same order, of the same types. */
const sameKey = (a: { names: string[]; types: Record<string, string> }, b: typeof a) =>
  a.names.length === b.names.length && a.names.every((n, i) => n === b.names[i] && a.types[n] === b.types[n]);

/**
 * `submit diff --from A --to B [--transform M]`: checks the flags, then in the session that both tables exist (exit
 * 3, named) and, without a transform, that they have the same key (a transform may give B's items another key).
 */
export const planDiff: Planner = (options) => {
  const refuse = (why: string) => new CliError(`submit diff: ${why}`, EXIT.usage);
  if (!options.from) throw refuse('needs --from <table> (A, read in full)');
  if (!options.to) throw refuse('needs --to <table> (B, where the items of A are looked up)');
  const { from, to } = options;
  refuseFlags('diff', options, [
    '--table',
    '--all',
    '--filter',
    '--names',
    '--values',
    '--set',
    '--add',
    '--remove',
    '--create-table',
    '--key',
    '--output',
    '--format',
  ]);
  return async ({ client, signal }) => {
    const [fromKey, toKey] = await tableKeys(client, from, to, signal);
    if (!options.transform && !sameKey(fromKey, toKey)) {
      const shown = (k: typeof fromKey) => k.names.map((n) => `${n}:${k.types[n] ?? '?'}`).join(', ');
      throw refuse(
        `${from} (${shown(fromKey)}) and ${to} (${shown(toKey)}) have different keys: give --transform to say what ${to} should hold for an item of ${from}, or run rxjs-dynamodb diff on one machine`,
      );
    }
    return { from, to, options: { key: toKey.names, fromKey: fromKey.names }, describe: `diff ${from} -> ${to}` };
  };
};

/** Differences `status` shows, first found first (by unit). */
export const SHOW_DIFFERENCES = 20;

/** What `status` says of a diff job. */
export interface DiffStatus {
  /** Every unit done and nothing found; `null` until every unit is done. */
  equal: boolean | null;
  complete: boolean;
  missing: number;
  different: number;
  /** With a transform: items of B less those of A found there, once every unit is done (`null` before). */
  extra: number | null;
  failed: number;
  dropped: number;
  /** Items of A read, and looked up in B; items of B read. */
  read: number;
  compared: number;
  found: number;
  toRead: number;
  /** Whether extras are found by key (no transform) and listed. */
  extraKeysListed: boolean;
  /** The first differences of the units' lists, each once. */
  firstDifferences: DiffRecord[];
}

/**
 * The result of a diff job so far, from its units' runs and lists, and the exit code `status` gives it: 0 every unit
 * done and equal; 1 every unit done and some difference; 3 some unit failed for good (the diff could not run to its
 * end); 4 still running.
 *
 * @param record The job.
 * @param units Its units (`status`'s), with their runs.
 * @param summary The units' totals (`summarize`).
 * @param firstLines The first `count` lines of a unit's list of differences.
 */
export async function diffStatus(
  record: JobRecord,
  units: UnitStatus[],
  summary: ReturnType<typeof summarize>,
  firstLines: (segment: number, count: number) => Promise<string[]>,
): Promise<{ status: DiffStatus; exitCode: number; text: string }> {
  const sums = zero();
  for (const run of units.flatMap((u) => u.runs))
    for (const k of Object.keys(sums) as Array<keyof DiffCounts>) sums[k] += run.counts?.[k] ?? 0;
  const complete = summary.done === summary.units;
  const listed = !record.options.transform;
  const extra = listed ? sums.extra : complete ? Math.max(0, sums.toRead - sums.found) : null;
  const found = sums.missing + sums.different + sums.failed + (extra ?? 0);
  // in unit order, each line once: a worker that died between keeping a page's differences and its cursor leaves them
  // twice in the list (the unit compared that page again); its counts are exact all the same (saved with the cursor)
  const seen = new Set<string>();
  const firstDifferences: DiffRecord[] = [];
  for (const u of units) {
    if (firstDifferences.length >= SHOW_DIFFERENCES || u.deadLetterCount === 0) continue;
    for (const line of await firstLines(u.segment, SHOW_DIFFERENCES))
      if (!seen.has(line) && firstDifferences.length < SHOW_DIFFERENCES) {
        seen.add(line);
        firstDifferences.push(JSON.parse(line) as DiffRecord);
      }
  }
  const status: DiffStatus = {
    equal: complete ? found === 0 : null,
    complete,
    missing: sums.missing,
    different: sums.different,
    extra,
    failed: sums.failed,
    dropped: sums.dropped,
    read: sums.read,
    compared: sums.compared,
    found: sums.found,
    toRead: sums.toRead,
    extraKeysListed: listed,
    firstDifferences,
  };
  const exitCode = summary.failed > 0 ? EXIT.failed : !complete ? EXIT_RUNNING : found === 0 ? EXIT.ok : EXIT.notAllWritten;
  return { status, exitCode, text: describeDiffStatus(record, summary, status) };
}

/** `status`'s exit code while units are waiting or running (statusCommand.ts's EXIT_RUNNING). */
const EXIT_RUNNING = 4;

/** The status of a diff job for people. */
function describeDiffStatus(record: JobRecord, summary: ReturnType<typeof summarize>, s: DiffStatus): string {
  const counts = `${s.missing} missing, ${s.extra ?? '?'} extra, ${s.different} different${s.failed ? `, ${s.failed} failed` : ''}`;
  const verdict =
    summary.failed > 0
      ? `incomplete (units failed): ${counts} so far`
      : !s.complete
        ? `running: ${counts} so far`
        : s.equal
          ? 'equal'
          : `not equal: ${counts}`;
  const lines = [
    `${record.jobId}: diff ${record.from} -> ${record.to}: ${summary.units} units: ${summary.done} done, ${summary.running} running, ${summary.waiting} waiting, ${summary.failed} failed; ${verdict}`,
    `  ${s.read} items of ${record.from} read, ${s.compared} compared${s.dropped ? ` (${s.dropped} dropped by the transform)` : ''}; ${s.toRead} items of ${record.to} read; ${summary.workers} workers`,
  ];
  if (!s.extraKeysListed) lines.push('  note: with a transform, extras are counted, not listed (B cannot be mapped back to A)');
  const what: Record<DifferenceKind, string> = {
    missing: `missing from ${record.to}`,
    different: 'different',
    extra: `extra in ${record.to}`,
    failed: `failed (key of ${record.from})`,
  };
  if (s.firstDifferences.length > 0) lines.push(`first ${s.firstDifferences.length} differences:`);
  for (const d of s.firstDifferences)
    lines.push(
      `  ${what[d.kind]}: ${JSON.stringify(d.key)}${d.attributes ? `  attributes: ${d.attributes.join(', ')}` : ''}${d.kind === 'failed' ? `  ${d.error.message}` : ''}`,
    );
  return `${lines.join('\n')}\n`;
}
