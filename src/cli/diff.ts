/**
 * The engine of `rxjs-dynamodb diff` (and of any command that must check that two tables agree): scans table A,
 * turns each item into the item B should hold (through an optional transform), looks those up in B by key in
 * batches, and compares them exactly; then counts B to find the items B holds that A does not explain (extras).
 *
 * ```
 * scan A:    --a--b--c--d--|                    (segments side by side, backpressured)
 * > transform, sample
 * lookup B:  ----------(A B)----(C D)--|        (BatchGetItem, 100 keys a call, `concurrency` calls at once)
 * count B:   --n1--n2--|                        (Scan Select COUNT, side by side with the above)
 * summary:   ---------------------------s|      extra = count(B) - expected items found in B
 * ```
 *
 * Memory stays flat: at most {@link HIGH_WATER_MARK} items of A are between the scan and their answer from B, and
 * nothing is remembered of an item once compared but the counts and the first `show` keys of each kind.
 *
 * Values are compared as DynamoDB holds them (AttributeValues), never through a JavaScript `number`: numbers by
 * their canonical text (`1.0` = `1`, all 38 digits), sets as sets, binary by bytes, maps and lists deeply.
 */
import { createHash } from 'node:crypto';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { concatMap, filter, from, map, mergeMap, type Observable, take } from 'rxjs';
import {
  type Backpressure,
  backpressure,
  type BatchGetTableOptions,
  capacity,
  type CapacityBudget,
  dynamoLookup,
  type Item,
  type Key,
  type Lookup,
  type Page,
  type Progress,
  type ScanInput,
} from '../index.js';
import { DEFAULT_MARSHALL_OPTIONS } from '../internal/client.js';
import { marshallItem } from '../internal/marshal.js';
import { canonicalNumber } from '../internal/numbers.js';
import { READ_UNITS } from './meter.js';
import { keyOfItem, keyProjection, scanSegments } from './scanJob.js';
import { type Transform, transformedItem } from './scanWrite.js';
import { CliError, EXIT, runToEnd } from './session.js';
import { describeTable, keyOf, type TableKey } from './table.js';

/** An item (or key) as DynamoDB holds it. */
export type Attributes = Record<string, AttributeValue>;

/** Items of A read and not yet answered by B, above which the scan of A waits. */
export const HIGH_WATER_MARK = 2_000;

/** What `diffTables` is asked. */
export interface DiffOptions {
  /** The table read in full (A). */
  from: string;
  /** The table the items of A are looked up in (B). */
  to: string;
  /**
   * What B should hold for an item of A: `(item) => item | undefined` (it may be async); `undefined` or `null`: nothing
   * (the item is dropped). Two items of A that map to one key of B are both compared with B's item and both count as
   * found, so `extra` is then short by one for each such pair (memory stays flat: keys are not remembered).
   * @default the item itself
   */
  transform?: Transform;
  /** Compare presence only: B's key attributes are read, not its items. @default false */
  keysOnly?: boolean;
  /**
   * Check only this fraction (0 < F <= 1) of A's items, chosen by a hash of A's key, so that a rerun checks the same
   * ones. B's extras are not checked then. @default every item
   */
  sample?: number;
  /** Parallel scan segments, for A, for counting B and for listing its extras. @default 1 */
  segments?: number;
  /** Scan `Limit`: items per page. @default DynamoDB's, 1 MB a page */
  pageSize?: number;
  /** BatchGetItem calls in flight at once, or `'adaptive'`. @default 4 */
  concurrency?: number | 'adaptive';
  /** Read capacity units per second, one budget shared by every read of the diff. @default no limit */
  unitsPerSecond?: number;
  /** Keys of each kind to keep for the report (`firstMissing`, …). @default 10 */
  show?: number;
  /** Stops the diff (the summary then has `complete: false`). */
  signal?: AbortSignal;
  /** Called as the counts move (the same object each time). @default none */
  onProgress?: (counts: DiffCounts) => void;
}

/** The counts of a diff. */
export interface DiffCounts {
  /** Items of A read. */
  scanned: number;
  /** Items of A left out by `sample`. */
  outOfSample: number;
  /** Items of A the transform maps to nothing. */
  dropped: number;
  /** Items looked up in B. */
  compared: number;
  /** Of those, found in B. */
  found: number;
  /** Expected in B and not there. */
  missing: number;
  /** Found in B with other values. */
  different: number;
  /** Items of A that could not be compared: the transform threw, or its item cannot be stored or has no key of B. */
  failed: number;
}

/** What a diff found. Keys are B's keys, except in `firstFailed` (A's). */
export interface DiffSummary extends DiffCounts {
  from: string;
  to: string;
  /** Nothing missing, different or failed, no extra (when checked), and the diff ran to its end. */
  equal: boolean;
  /** False when stopped by the signal. */
  complete: boolean;
  /** Items in B that no compared item of A accounts for (`itemsInTo - found`); `null` when not checked (`sample`). */
  extra: number | null;
  /** Items in B (Scan Select COUNT); `null` when not counted (`sample`). */
  itemsInTo: number | null;
  extraChecked: boolean;
  /** Whether B was scanned for the keys of its extras (`firstExtra`); when it could not be, `extraNote` says why. */
  extraKeysListed: boolean;
  extraNote: string | null;
  firstMissing: Key[];
  firstExtra: Key[];
  firstDifferent: Key[];
  /** The names of the top-level attributes that differ, for each key of `firstDifferent`. */
  differentAttributes: string[][];
  firstFailed: Array<{ key: Key; error: string }>;
  keysOnly: boolean;
  sample: number | null;
  totalSegments: number;
  /** BatchGetItem calls made, and the read units they consumed. */
  batchGetCalls: number;
  batchGetUnits: number;
}

/** How expected items are marshalled: as `copy` writes them (`dynamoBatchWrite`'s defaults for a plain client). */
const MARSHAL = DEFAULT_MARSHALL_OPTIONS;
const bytes = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
const base64 = (b: Uint8Array) => bytes(b).toString('base64');

/** Two sets of canonical element texts: the same elements, in any order. */
function sameSet(a: string[], b: string[]): boolean {
  const set = new Set(a);
  return set.size === new Set(b).size && b.every((e) => set.has(e));
}

/**
 * Whether two DynamoDB values are the same value: numbers by their canonical text (`1.0` = `1`, all 38 digits, never
 * through a JavaScript number), string, number and binary sets as sets, binary by bytes, lists in order, maps by name.
 */
export function sameValue(a: AttributeValue, b: AttributeValue): boolean {
  if (a.S !== undefined) return a.S === b.S;
  if (a.N !== undefined) return b.N !== undefined && canonicalNumber(a.N) === canonicalNumber(b.N);
  if (a.B !== undefined) return b.B !== undefined && bytes(a.B).equals(bytes(b.B));
  if (a.BOOL !== undefined) return a.BOOL === b.BOOL;
  if (a.NULL !== undefined) return b.NULL !== undefined;
  if (a.SS !== undefined) return b.SS !== undefined && sameSet(a.SS, b.SS);
  if (a.NS !== undefined) return b.NS !== undefined && sameSet(a.NS.map(canonicalNumber), b.NS.map(canonicalNumber));
  if (a.BS !== undefined) return b.BS !== undefined && sameSet(a.BS.map(base64), b.BS.map(base64));
  if (a.L !== undefined) return b.L !== undefined && a.L.length === b.L.length && a.L.every((e, i) => sameValue(e, b.L![i]!));
  if (a.M !== undefined) return b.M !== undefined && differingAttributes(a.M, b.M).length === 0;
  return false;
}

/** The names of the attributes that are not the same value in both (in one only, or different), sorted. */
export function differingAttributes(expected: Attributes, actual: Attributes): string[] {
  const has = (o: Attributes, n: string) => Object.prototype.hasOwnProperty.call(o, n);
  const names = new Set([...Object.keys(expected), ...Object.keys(actual)]);
  return [...names].filter((n) => !(has(expected, n) && has(actual, n) && sameValue(expected[n]!, actual[n]!))).sort();
}

/** Where a key falls in [0, 1): a hash of its canonical text, the same on every run (`sample` keeps those under F). */
export function samplePoint(key: Attributes, names: string[]): number {
  const part = (v: AttributeValue | undefined) =>
    v?.S !== undefined ? `S${v.S}` : v?.N !== undefined ? `N${canonicalNumber(v.N)}` : v?.B !== undefined ? `B${base64(v.B)}` : '';
  const text = names.map((n) => `${n}\u0000${part(key[n])}`).join('\u0001');
  return createHash('sha256').update(text).digest().readUIntBE(0, 6) / 2 ** 48;
}

/** The counts of a diff and the first keys of each kind: its decisions, over plain data. */
export class DiffLedger {
  readonly counts: DiffCounts = { scanned: 0, outOfSample: 0, dropped: 0, compared: 0, found: 0, missing: 0, different: 0, failed: 0 };
  readonly firstMissing: Key[] = [];
  readonly firstDifferent: Key[] = [];
  readonly differentAttributes: string[][] = [];
  readonly firstFailed: Array<{ key: Key; error: string }> = [];

  /** @param show Keys of each kind to keep. */
  constructor(private readonly show: number) {}

  /**
   * B's answer for a key: `found` or not; when both `expected` and `actual` are given (not `keysOnly`), their values
   * are compared too.
   */
  answer(key: Key, found: boolean, expected?: Attributes, actual?: Attributes): 'missing' | 'different' | 'equal' {
    this.counts.compared++;
    if (!found) {
      this.counts.missing++;
      if (this.firstMissing.length < this.show) this.firstMissing.push(key);
      return 'missing';
    }
    this.counts.found++;
    const differing = expected && actual ? differingAttributes(expected, actual) : [];
    if (differing.length === 0) return 'equal';
    this.counts.different++;
    if (this.firstDifferent.length < this.show) {
      this.firstDifferent.push(key);
      this.differentAttributes.push(differing);
    }
    return 'different';
  }

  /** An item of A that could not be compared: its key in A, and why. */
  fail(key: Key, error: string): void {
    this.counts.failed++;
    if (this.firstFailed.length < this.show) this.firstFailed.push({ key, error });
  }

  /** The extras: B's count less the expected items found there (never below 0: B may have changed meanwhile). */
  extra(itemsInTo: number | undefined): number | null {
    return itemsInTo === undefined ? null : Math.max(0, itemsInTo - this.counts.found);
  }
}

/** Sums the BatchGetItem calls and units of the lookup operators (each reports its own running totals). */
class GetMeter {
  private readonly last: Array<Pick<Progress, 'calls' | 'unitsConsumed'>> = [];

  /** A new operator's `onProgress`. */
  track(): (progress: Progress) => void {
    const slot = this.last.push({ calls: 0, unitsConsumed: 0 }) - 1;
    return (progress) => (this.last[slot] = progress);
  }

  get calls(): number {
    return this.last.reduce((n, p) => n + p.calls, 0);
  }

  get units(): number {
    return this.last.reduce((n, p) => n + p.unitsConsumed, 0);
  }
}

/** What one diff runs with. */
interface Run {
  client: DynamoDBClient;
  options: DiffOptions & { segments: number; show: number };
  fromKey: TableKey;
  toKey: TableKey;
  ledger: DiffLedger;
  budget: CapacityBudget | undefined;
  gets: GetMeter;
  signal: AbortSignal;
}

/** The pages of a table, segments side by side (the scan of `export`, `copy`, …, from their beginning). */
function scanTable(run: Run, input: ScanInput, link?: Backpressure): Observable<Page> {
  const { segments: totalSegments, pageSize } = run.options;
  const table = input.TableName ?? '';
  const state = {
    command: 'diff',
    table,
    totalSegments,
    segments: Array.from({ length: totalSegments }, () => ({ done: false })),
    complete: false,
  };
  const base: ScanInput = { ...input, ...READ_UNITS, ...(pageSize ? { Limit: pageSize } : {}) };
  const options = { ...(link ? { backpressure: link } : {}), ...(run.budget ? { capacity: run.budget } : {}) };
  return scanSegments(run.client, base, state, options).pipe(map(({ page }) => page));
}

/** `dynamoLookup`'s options for a table of the diff (`projection`: read these attributes only). */
function lookupOptions(run: Run, key: TableKey, link: Backpressure, projection?: string[]): BatchGetTableOptions {
  const { concurrency } = run.options;
  return {
    keyAttributes: key.names,
    backpressure: link,
    onProgress: run.gets.track(),
    ...(projection ? { projection } : {}),
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(run.budget ? { capacity: run.budget } : {}),
  };
}

/** An item of B to look up: its key, and (unless `keysOnly`) the whole item as DynamoDB would hold it. */
export interface Expected {
  key: Key;
  attributes?: Attributes;
}

/** A transform that threw (recorded in the ledger already). */
const FAILED = Symbol('failed');

/**
 * The transform's answer for an item of A (it may be async), or `{ threw }`: why it could not be had.
 *
 * @param transform What B should hold for an item of A.
 * @param item The item of A.
 * @returns `{ out }`: the answer, `undefined` / `null` for nothing; `{ threw }`: the transform threw, with its message.
 */
export async function transformAnswer(transform: Transform, item: Item): Promise<{ out: unknown } | { threw: string }> {
  try {
    return { out: await transform(item) };
  } catch (error) {
    return { threw: `the transform threw: ${(error as Error)?.message ?? String(error)}` };
  }
}

/** The transform's answer for an item of A, or {@link FAILED} when it threw (recorded in the ledger). */
async function transformed(run: Run, item: Item): Promise<unknown> {
  const answer = await transformAnswer(run.options.transform!, item);
  if ('out' in answer) return answer.out;
  run.ledger.fail(keyOfItem(item, run.fromKey.names), answer.threw);
  return FAILED;
}

/** Whether an item of A is in the sample (always, without one); counts those left out. */
function inSample(run: Run, item: Item): boolean {
  const { sample } = run.options;
  if (sample === undefined || samplePoint(marshallItem(keyOfItem(item, run.fromKey.names), MARSHAL), run.fromKey.names) < sample)
    return true;
  run.ledger.counts.outOfSample++;
  return false;
}

/** What B should hold for an item of A ({@link expectationOf}): an expected item, nothing, or why it cannot be compared. */
export type Expectation = { expected: Expected } | { dropped: true } | { error: string };

/**
 * What B should hold for an item of A, from `out` (the transform's answer, or the item itself): B's key and, unless
 * `keysOnly`, the whole item as DynamoDB would hold it (marshalled as `copy` writes it); `{ dropped }` when `out` is
 * nothing; `{ error }` when it cannot be compared (not an item, no key of B, a value that cannot be stored).
 *
 * @param out The transform's answer, or the item of A itself.
 * @param to B's name, for the messages.
 * @param toKey B's key attribute names, partition key first.
 * @param keysOnly Compare presence only: the key alone is kept. @default false
 */
export function expectationOf(out: unknown, to: string, toKey: string[], keysOnly = false): Expectation {
  if (out === undefined || out === null) return { dropped: true };
  let expected: Item;
  try {
    expected = transformedItem(out)!;
  } catch (error) {
    return { error: (error as Error).message };
  }
  const absent = toKey.find((n) => expected[n] === undefined || expected[n] === null);
  if (absent !== undefined) return { error: `the item has no attribute ${absent}, part of the key of table ${to}` };
  const key = keyOfItem(expected, toKey);
  try {
    // marshalled once: a key (or item) that cannot be sent fails this item, not the whole diff
    const attributes = marshallItem(keysOnly ? key : expected, MARSHAL);
    return { expected: keysOnly ? { key } : { key, attributes } };
  } catch (error) {
    return { error: `the item cannot be compared: ${(error as Error).message}` };
  }
}

/** An item as read from B (unmarshalled exactly), back as DynamoDB holds it, to compare with an expected one. */
export const storedAttributes = (item: Item): Attributes => marshallItem(item, MARSHAL);

/**
 * What B should hold for an item of A, from `out` (the transform's answer, or the item itself), or `undefined` when
 * there is nothing to compare: dropped by the transform, or failed (counted, with A's key and why).
 */
function expectedOf(run: Run, item: Item, out: unknown): Expected | undefined {
  const { ledger, options, fromKey, toKey } = run;
  if (out === FAILED) return undefined;
  const expectation = expectationOf(out, options.to, toKey.names, options.keysOnly);
  if ('dropped' in expectation) return void ledger.counts.dropped++;
  if ('error' in expectation) return void ledger.fail(keyOfItem(item, fromKey.names), expectation.error);
  return expectation.expected;
}

/** Scans A, looks each expected item up in B, and records the answers. */
async function compareAll(run: Run): Promise<'complete' | 'interrupted'> {
  const { options, fromKey, toKey, ledger } = run;
  const link = backpressure({ highWaterMark: HIGH_WATER_MARK });
  // with --keys-only and no transform, A's keys (and B's key attributes) are all that is read
  const names = [...new Set([...fromKey.names, ...toKey.names])];
  const projection = options.keysOnly && !options.transform ? keyProjection(names) : {};
  const expectations = new WeakMap<Key, Expected>();
  const prepared = scanTable(run, { TableName: options.from, ...projection }, link).pipe(
    mergeMap((page) => {
      ledger.counts.scanned += page.items.length;
      options.onProgress?.(ledger.counts);
      return page.items;
    }),
    link.filter((item) => inSample(run, item)),
    // a transform may be async: one item at a time, in order; without one, no Promise per item
    options.transform
      ? concatMap((item) => from(transformed(run, item)).pipe(map((out) => expectedOf(run, item, out))))
      : map((item) => expectedOf(run, item, item)),
    // dropped, failed: released on the link (counted already)
    link.filter((e) => e !== undefined),
    map((e) => {
      const { key } = e as Expected;
      expectations.set(key, e as Expected);
      return key;
    }),
  );
  const lookups = prepared.pipe(
    dynamoLookup(run.client, options.to, lookupOptions(run, toKey, link, options.keysOnly ? toKey.names : undefined)),
  );
  return runToEnd(lookups, run.signal, (lookup: Lookup) => {
    const expected = expectations.get(lookup.key);
    const actual = lookup.item && expected?.attributes ? storedAttributes(lookup.item) : undefined;
    ledger.answer(lookup.key, lookup.item !== undefined, expected?.attributes, actual);
    options.onProgress?.(ledger.counts);
  });
}

/** The items in B (Scan Select COUNT), or `undefined` when interrupted. */
async function countItems(run: Run): Promise<number | undefined> {
  let count = 0;
  const pages = scanTable(run, { TableName: run.options.to, Select: 'COUNT' });
  const outcome = await runToEnd(pages, run.signal, (page) => (count += page.count));
  return outcome === 'complete' ? count : undefined;
}

/** Scans B's keys and looks them up in A, up to the first `limit` keys A does not have. */
async function listExtras(run: Run, limit: number): Promise<Key[]> {
  const { options, fromKey, toKey } = run;
  const link = backpressure({ highWaterMark: HIGH_WATER_MARK });
  const extras: Key[] = [];
  const keys = scanTable(run, { TableName: options.to, ...keyProjection(toKey.names) }, link).pipe(
    mergeMap((page) => page.items.map((item) => keyOfItem(item, toKey.names))),
    dynamoLookup(run.client, options.from, lookupOptions(run, fromKey, link, fromKey.names)),
    filter((lookup) => lookup.item === undefined),
    take(limit),
  );
  await runToEnd(keys, run.signal, (lookup) => extras.push(lookup.key));
  return extras;
}

/** Why the keys of the extras are not listed, or `undefined` when they are to be. */
function extraKeysUnlisted(run: Run, extra: number | null): string | undefined {
  const { options, fromKey, toKey } = run;
  if (options.sample !== undefined) return `--sample compares a sample of ${options.from} only: extras in ${options.to} are not checked`;
  if (extra === 0 || extra === null) return undefined;
  if (options.transform) return 'with a transform, extras are counted, not listed (B cannot be mapped back to A)';
  if (fromKey.names.join('\u0000') !== toKey.names.join('\u0000'))
    return `the tables have different keys (${fromKey.names.join(', ')} / ${toKey.names.join(', ')}): extras are counted, not listed`;
  return undefined;
}

/** Both tables' keys (DescribeTable); a missing table is named (`CliError`, exit 3). */
export async function tableKeys(client: DynamoDBClient, from: string, to: string, signal?: AbortSignal): Promise<[TableKey, TableKey]> {
  const [a, b] = [await describeTable(client, from, signal), await describeTable(client, to, signal)];
  for (const [table, description, flag] of [
    [from, a, '--from'],
    [to, b, '--to'],
  ] as const)
    if (!description) throw new CliError(`table ${table} does not exist (check ${flag}, --endpoint and --region)`, EXIT.failed);
  return [keyOf(a!), keyOf(b!)];
}

/** Checks the options, with the bad value in the message. */
function checkOptions(options: DiffOptions): void {
  const { sample, segments, show } = options;
  if (sample !== undefined && !(sample > 0 && sample <= 1)) throw new RangeError(`sample must be a fraction > 0 and <= 1, got ${sample}`);
  if (segments !== undefined && !(Number.isInteger(segments) && segments >= 1))
    throw new RangeError(`segments must be an integer >= 1, got ${segments}`);
  if (show !== undefined && !(Number.isInteger(show) && show >= 0)) throw new RangeError(`show must be an integer >= 0, got ${show}`);
}

/**
 * Compares table `from` (A) with table `to` (B): every item of A (through `transform`, within `sample`) is looked
 * up in B by B's key and compared exactly; B is counted to find its extras, whose first keys are then looked for
 * (scan B's keys, look each up in A) when there is no transform and no sample. A missing table fails with a
 * `CliError` naming it; a failed call stops the diff with a `CliError` (exit 3).
 *
 * @param client The client both tables are reached with.
 * @param options The tables and how to compare them; see {@link DiffOptions}.
 * @returns The counts and the first keys of each kind: `equal` when B holds exactly what A says it should.
 */
export async function diffTables(client: DynamoDBClient, options: DiffOptions): Promise<DiffSummary> {
  checkOptions(options);
  const { from, to, segments = 1, show = 10 } = options;
  const [fromKey, toKey] = await tableKeys(client, from, to, options.signal);
  // one controller for both passes: the first to fail stops the other; the caller's signal stops both
  const stop = new AbortController();
  const onAbort = () => stop.abort();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const run: Run = {
    client,
    options: { ...options, segments, show },
    fromKey,
    toKey,
    ledger: new DiffLedger(show),
    budget: options.unitsPerSecond ? capacity({ unitsPerSecond: options.unitsPerSecond }) : undefined,
    gets: new GetMeter(),
    signal: stop.signal,
  };
  const failed = (error: unknown): never => {
    stop.abort();
    if (error instanceof CliError) throw error;
    throw new CliError(`diff stopped: ${(error as Error)?.message ?? String(error)}`);
  };
  try {
    const [outcome, itemsInTo] = await Promise.all([
      compareAll(run).catch(failed),
      options.sample === undefined ? countItems(run).catch(failed) : Promise.resolve(undefined),
    ]);
    let complete = outcome === 'complete' && (options.sample !== undefined || itemsInTo !== undefined);
    const extra = complete ? run.ledger.extra(itemsInTo) : null;
    const unlisted = extraKeysUnlisted(run, extra);
    let firstExtra: Key[] = [];
    const listing = complete && unlisted === undefined && extra !== null && extra > 0 && show > 0;
    if (listing) {
      firstExtra = await listExtras(run, Math.min(show, extra)).catch(failed);
      complete = !stop.signal.aborted;
    }
    const { ledger } = run;
    const extraClean = options.sample !== undefined || extra === 0;
    return {
      from,
      to,
      equal: complete && ledger.counts.missing + ledger.counts.different + ledger.counts.failed === 0 && extraClean,
      complete,
      ...ledger.counts,
      extra,
      itemsInTo: itemsInTo ?? null,
      extraChecked: extra !== null,
      extraKeysListed: listing,
      extraNote: unlisted ?? null,
      firstMissing: ledger.firstMissing,
      firstExtra,
      firstDifferent: ledger.firstDifferent,
      differentAttributes: ledger.differentAttributes,
      firstFailed: ledger.firstFailed,
      keysOnly: options.keysOnly === true,
      sample: options.sample ?? null,
      totalSegments: segments,
      batchGetCalls: run.gets.calls,
      batchGetUnits: run.gets.units,
    };
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
  }
}
