/**
 * The engine behind dynamoTransactWrite and dynamoTransactGet: one TransactWriteItems / TransactGetItems call per
 * group, `concurrency` calls in flight, groups that touch a common item sent one after another in input order (so they
 * never conflict with each other), conflicts, throttling and transient errors retried after the backoff, one outcome
 * per group. The decisions are plain synchronous code — what an answer means (`decideTransact`), which group may go
 * next (`GroupGate`), the idempotency token (`contentToken`) — and `TransactRun` is the RxJS shell around them, as
 * `BatchRun` is for the batch operators. Each operator file says how its group becomes a command (`TransactSpec`).
 */
import type { AttributeValue, ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import type { unmarshallOptions } from '@aws-sdk/util-dynamodb';
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import {
  asyncScheduler,
  concatMap,
  Observable,
  type OperatorFunction,
  type SchedulerLike,
  Subject,
  type Subscriber,
  type Subscription,
  takeUntil,
} from 'rxjs';
import type { Backpressure } from '../backpressure.js';
import { type CapacityBudget, type CapacityOptions, toBudget, unitsConsumed } from '../capacity.js';
import { TransactionError, type TransactionErrorCode, type TransactionProblem, type TransactionReason } from '../errors.js';
import { backoffDelay, validateBackoff } from '../internal/backoff.js';
import { describeKeySchema, sendCommand } from '../internal/client.js';
import { describeKeyValues, nativeKey } from '../internal/engine/entry.js';
import type { MarshalSettings } from '../internal/marshal.js';
import { validateKeyAttributes } from '../internal/options.js';
import { preview } from '../internal/prepare.js';
import { type Progress, ProgressTracker } from '../internal/progress.js';
import { retryWithBackoff } from '../internal/retryCall.js';
import { isRetryableError } from '../internal/retryable.js';
import type { Unmarshal } from '../internal/unmarshal.js';
import type { BackoffOptions, DynamoDBSender } from '../types.js';

/** Actions in one TransactWriteItems or TransactGetItems call. */
export const TRANSACT_MAX_ACTIONS = 100;
/** DynamoDB's transaction payload limit, 4 MiB: 4,194,304 B is accepted by DynamoDB Local, 4,194,305 B refused. */
export const TRANSACT_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;
/** The longest `ClientRequestToken` DynamoDB takes. */
export const CLIENT_REQUEST_TOKEN_MAX_LENGTH = 36;
/** How long DynamoDB remembers a `ClientRequestToken` after the call that used it. */
export const TOKEN_WINDOW_MS = 10 * 60 * 1000;
/** Tokens of written groups a subscription remembers to tell replays (`replayOf`): the most recent ones. */
const REPLAY_MEMORY = 100_000;

/** Options both transaction operators take. */
export interface TransactOptions {
  /** Transaction calls in flight at once. A group waiting out its backoff, or behind a group it shares an item with, holds no slot. @default 4 */
  concurrency?: number;
  /** Calls per group before giving up: one call and `maxAttempts - 1` retries. @default 10 */
  maxAttempts?: number;
  /** Backoff between attempts of a group. @default { baseDelayMs: 100, maxDelayMs: 20000, jitter: 'full' } */
  backoff?: BackoffOptions;
  /** Every delay (backoff, capacity budget) goes through this scheduler. @default asyncScheduler */
  scheduler?: SchedulerLike;
  /** Every random draw (jitter) comes from this function, returning a number in [0, 1). @default Math.random */
  random?: () => number;
  /**
   * A budget of capacity units per second (a `capacity()` handle or its options). Each call first spends its estimate
   * — twice what the same plain writes or strong reads would cost, as DynamoDB charges transactions double — then the
   * budget is corrected by what DynamoDB reports it consumed. A provisioned fraction is read from the group's first
   * table. @default none
   */
  capacity?: CapacityBudget | CapacityOptions;
  /**
   * Called with the counts so far after every call, and once more at the end (`complete: true`). Counts are of
   * groups: `taken`, `done` (written, read or cancelled), `failed`; `calls` and `requestAttempts` both count calls.
   * @default none
   */
  onProgress?: (progress: Progress) => void;
  /**
   * The link to release as groups are settled: one per group, whatever its size (a group is usually made of one
   * record of the source). A step that builds one group from several source items (`bufferCount`) must release the
   * others itself: `link.release(n - 1)`. @default none
   */
  backpressure?: Backpressure;
  /** Key attribute names per table, partition key first: `{ Accounts: ['pk'] }`. A table not named is described once (DescribeTable, cached per client). @default {} */
  keyAttributes?: Record<string, string[]>;
  /** Asks DynamoDB for the capacity each call consumed, reported in each outcome's `consumedCapacity`. @default not asked */
  returnConsumedCapacity?: 'TOTAL' | 'INDEXES';
  /** How items, keys and expression values are marshalled. @default the document client's, else `{ removeUndefinedValues: true, convertClassInstanceToMap: true }` */
  marshallOptions?: MarshalSettings;
  /** How items DynamoDB returns are unmarshalled. @default the document client's if it has some, else exact (see dynamoBatchGet) */
  unmarshallOptions?: unmarshallOptions;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks the options when the operator is created; throws a RangeError (a TypeError for a non-function) naming the bad value. */
export function validateTransactOptions(options: TransactOptions & { onFailure?: unknown }): void {
  const { concurrency = 4, maxAttempts = 10, onFailure, scheduler, random, onProgress, backpressure, keyAttributes } = options;
  if (!(Number.isInteger(concurrency) && concurrency >= 1))
    throw new RangeError(`concurrency must be an integer >= 1, got ${String(concurrency)}`);
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1))
    throw new RangeError(`maxAttempts must be an integer >= 1, got ${String(maxAttempts)}`);
  if (onFailure !== undefined && onFailure !== 'emit' && onFailure !== 'error')
    throw new RangeError(`onFailure must be 'emit' or 'error', got ${String(onFailure)}`);
  validateBackoff(options.backoff);
  const rcc = options.returnConsumedCapacity;
  if (rcc !== undefined && rcc !== 'TOTAL' && rcc !== 'INDEXES')
    throw new RangeError(`returnConsumedCapacity must be 'TOTAL' or 'INDEXES', got ${JSON.stringify(rcc)}`);
  if (scheduler !== undefined && (typeof scheduler?.schedule !== 'function' || typeof scheduler?.now !== 'function'))
    throw new TypeError(`scheduler must be an RxJS SchedulerLike (now and schedule), got ${String(scheduler)}`);
  for (const [name, f] of [
    ['random', random],
    ['onProgress', onProgress],
  ] as const)
    if (f !== undefined && typeof f !== 'function') throw new TypeError(`${name} must be a function, got ${String(f)}`);
  if (backpressure !== undefined && (typeof backpressure?.release !== 'function' || typeof backpressure?.attachSink !== 'function'))
    throw new TypeError(`backpressure must be a link made by backpressure(), got ${String(backpressure)}`);
  if (keyAttributes !== undefined) {
    if (!isObject(keyAttributes))
      throw new RangeError(`keyAttributes must be an object of key attribute names per table, got ${JSON.stringify(keyAttributes)}`);
    for (const [table, attributes] of Object.entries(keyAttributes)) validateKeyAttributes(attributes, `keyAttributes.${table}`);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Plain decisions

/** Why a key value is not one DynamoDB takes (missing, not a key type, empty), or `undefined`. */
function keyValueProblem(v: unknown): string | undefined {
  if (v === undefined || v === null) return 'is missing';
  if (nativeKey({ v }, ['v']) === undefined) return 'must be a string, number or binary';
  if ((typeof v === 'string' && v.length === 0) || (ArrayBuffer.isView(v) && v.byteLength === 0))
    return 'is empty; DynamoDB rejects empty key values';
  return undefined;
}

/**
 * The key attributes of `values` (other attributes left out: DynamoDB rejects them in a key) and the key's identity
 * as DynamoDB compares it (`1` and `1.0` are one key), or what is wrong with it.
 */
export function keyOf(
  values: Record<string, unknown>,
  attributes: string[],
): { key: Record<string, unknown>; identity: string } | { problem: string } {
  const key: Record<string, unknown> = {};
  for (const a of attributes) {
    const problem = keyValueProblem(values[a]);
    if (problem) return { problem: `key attribute "${a}" ${problem} (key ${describeKeyValues(values, attributes)})` };
    key[a] = values[a];
  }
  return { key, identity: nativeKey(key, attributes)! };
}

/**
 * JSON with every object's keys sorted and everything else in the order given: DynamoDB compares maps by their
 * entries, but lists, sets (measured on DynamoDB Local: `SS ['a','b']` and `['b','a']` under one token are a mismatch)
 * and number text (`1` and `1.0` are a mismatch too) as written. Bytes (`B`, `BS`) as base64, as on the wire.
 */
export function canonicalJson(value: unknown): string {
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'));
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * A group's `ClientRequestToken`, derived from its content: the first 36 hex digits of the SHA-256 of the
 * {@link canonicalJson} of its marshalled actions. The same group always gets the same token, so a retry after a
 * timeout (or a second run within DynamoDB's 10-minute window) cannot apply it twice; groups that differ get
 * different tokens.
 */
export function contentToken(canonical: string): string {
  return createHash('sha256').update(canonical).digest('hex').slice(0, CLIENT_REQUEST_TOKEN_MAX_LENGTH);
}

/**
 * The tables a group names, or why it is refused before anything: not a non-empty array, more than 100 actions, an
 * action that is not an object with a table name.
 */
export function tablesOfGroup<G>(
  operation: TransactSpec<G, PreparedGroup>['operation'],
  group: unknown,
  index: number,
): string[] | TransactionError<G> {
  if (!Array.isArray(group) || group.length === 0)
    return invalidGroup(
      operation,
      group as G,
      index,
      'group.malformed',
      `Group ${index} must be a non-empty array of actions, got ${preview(group)}. It was not sent.`,
    );
  if (group.length > TRANSACT_MAX_ACTIONS)
    return invalidGroup(
      operation,
      group as G,
      index,
      'group.tooManyActions',
      `Group ${index} has ${group.length} actions; ${operation} takes at most ${TRANSACT_MAX_ACTIONS}. It was not sent: split it (the parts would not be atomic together).`,
    );
  const tables = new Set<string>();
  for (let i = 0; i < group.length; i++) {
    const action: unknown = group[i];
    if (!isObject(action) || typeof action.table !== 'string' || action.table.length === 0)
      return invalidGroup(
        operation,
        group as G,
        index,
        'action.malformed',
        `Group ${index}, action ${i}: an action is an object with a table name, got ${preview(action)}. The group was not sent.`,
        i,
      );
    tables.add(action.table);
  }
  return [...tables];
}

/** Cancellation reasons a retry may clear: the items were busy, or the table pushed back. */
const RETRYABLE_REASONS = new Set(['TransactionConflict', 'ThrottlingError', 'ProvisionedThroughputExceeded']);
/** Errors of the transaction APIs that a retry may clear, besides throttling and transient ones. */
const RETRYABLE_NAMES = new Set(['TransactionConflictException', 'TransactionInProgressException']);
const nameOf = (error: unknown) => (error as { name?: unknown } | undefined)?.name;

/** DynamoDB's `CancellationReasons` of an error, when it is a `TransactionCanceledException`. */
export function cancellationReasons(error: unknown): Array<{ Code?: string; Message?: string; Item?: Record<string, AttributeValue> }> {
  if (nameOf(error) !== 'TransactionCanceledException') return [];
  const reasons = (error as { CancellationReasons?: unknown }).CancellationReasons;
  return Array.isArray(reasons) ? reasons : [];
}

/** What one call's answer means for its group. Plain: tested with tables of inputs and outputs. */
export type TransactStep =
  | { kind: 'done' }
  /** A condition failed: DynamoDB applied nothing. An outcome, not an error. */
  | { kind: 'cancelled' }
  | { kind: 'retry' }
  | { kind: 'failed'; code: Exclude<TransactionErrorCode, 'transaction.invalidGroup'> };

/**
 * A call's answer → the group's step; `attempts` counts this call. A `TransactionCanceledException` whose reasons
 * include a failed condition is an outcome (`cancelled`), unless a reason other than conflict or throttling came with
 * it; one whose reasons are all conflicts or throttling is retried, as are `TransactionConflictException`,
 * `TransactionInProgressException`, throttling and transient errors, while attempts are left. Anything else fails.
 */
export function decideTransact(answer: { error: unknown } | { output: unknown }, attempts: number, maxAttempts: number): TransactStep {
  if (!('error' in answer)) return { kind: 'done' };
  const { error } = answer;
  const again: TransactStep = attempts < maxAttempts ? { kind: 'retry' } : { kind: 'failed', code: 'transaction.attemptsExhausted' };
  if (nameOf(error) === 'TransactionCanceledException') {
    const codes = cancellationReasons(error)
      .map((r) => r.Code)
      .filter((c) => c !== undefined && c !== 'None');
    const others = codes.filter((c) => !RETRYABLE_REASONS.has(c!));
    if (others.length === 0 && codes.length > 0) return again;
    if (others.length > 0 && others.every((c) => c === 'ConditionalCheckFailed')) return { kind: 'cancelled' };
    return { kind: 'failed', code: 'transaction.nonRetryable' };
  }
  if (isRetryableError(error) || RETRYABLE_NAMES.has(nameOf(error) as string)) return again;
  return { kind: 'failed', code: 'transaction.nonRetryable' };
}

const THROTTLING = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'Throttling',
  'RequestLimitExceeded',
  'RequestThrottled',
  'RequestThrottledException',
  'TooManyRequestsException',
  'LimitExceededException',
  'SlowDown',
]);

/** A transient error (not throttling, not a conflict), after which DynamoDB may have applied the call. */
export function mayHaveApplied(error: unknown): boolean {
  if (!isRetryableError(error)) return false;
  const e = error as { $retryable?: { throttling?: boolean }; $metadata?: { httpStatusCode?: number } };
  return !THROTTLING.has(nameOf(error) as string) && e.$retryable?.throttling !== true && e.$metadata?.httpStatusCode !== 429;
}

/**
 * Which group goes next. A group touching an item that an earlier group still holds (queued, in a call, waiting to
 * retry) waits until every earlier group on each of its items is settled, so groups sharing an item go one after
 * another in the order admitted and never conflict with each other. Retries go before fresh groups. Plain and
 * synchronous; a group holds its items from `admit` until `settled`.
 */
export class GroupGate<E extends { index: number; items: readonly string[] }> {
  /** Per item, the live groups on it, in the order admitted: the first may go. */
  private readonly live = new Map<string, E[]>();
  private readonly first: E[] = [];
  private fresh: E[] = [];
  private head = 0;

  /** A new group: `'queued'`, or `'held'` behind an earlier live group on one of its items. */
  admit(entry: E): 'queued' | 'held' {
    let held = false;
    for (const item of entry.items) {
      const queue = this.live.get(item);
      if (queue) {
        queue.push(entry);
        held = true;
      } else this.live.set(item, [entry]);
    }
    if (held) return 'held';
    this.fresh.push(entry);
    return 'queued';
  }

  /** A group whose backoff is over goes again, before fresh ones. */
  again(entry: E): void {
    this.first.push(entry);
  }

  /** The next group to send, if any. */
  next(): E | undefined {
    if (this.first.length > 0) return this.first.shift();
    if (this.head >= this.fresh.length) return undefined;
    const entry = this.fresh[this.head++];
    if (this.head > 1024 && this.head * 2 > this.fresh.length) {
      this.fresh = this.fresh.slice(this.head);
      this.head = 0;
    }
    return entry;
  }

  /** A group is settled: it lets go of its items, and the groups first on all of theirs now are queued, in input order. */
  settled(entry: E): void {
    const released: E[] = [];
    for (const item of entry.items) {
      const queue = this.live.get(item);
      if (!queue || queue[0] !== entry) continue;
      queue.shift();
      if (queue.length === 0) this.live.delete(item);
      else if (queue[0]!.items.every((i) => this.live.get(i)![0] === queue[0])) released.push(queue[0]!);
    }
    for (const e of released.sort((a, b) => a.index - b.index)) if (!this.first.includes(e)) this.first.push(e);
  }

  /** Groups queued (not held, not in a call, not waiting to retry). */
  get queued(): number {
    return this.first.length + this.fresh.length - this.head;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// What an operator tells the engine

/** A group made ready to send. */
export interface PreparedGroup {
  /** `table`, NUL, key identity: one per item the group touches. */
  items: string[];
  /** Capacity units one attempt is estimated to cost. */
  units: number;
  /** The table a capacity budget reads its provisioned capacity from: the first action's. */
  table: string;
  /** The `ClientRequestToken` sent with every attempt, if any. */
  token?: string;
  /** `action 1 (update of table Accounts, pk="alice")`, for messages. */
  where(action: number): string;
}

/** What a transaction call answers with. */
export interface TransactOutput {
  ConsumedCapacity?: ConsumedCapacity[];
  Responses?: Array<{ Item?: Record<string, AttributeValue> }>;
}

export interface TransactSpec<G, P extends PreparedGroup> {
  operation: 'TransactWriteItems' | 'TransactGetItems';
  kind: 'read' | 'write';
  /** The tables a group names (their key attributes are needed to prepare it), or why it is refused at once. */
  tablesOf(group: unknown, index: number): string[] | TransactionError<G>;
  /** Checks and prepares a group once its tables' key attributes are known, or refuses it. */
  prepare(group: G, index: number, keyAttributesOf: (table: string) => string[]): P | TransactionError<G>;
  /** The command of one attempt. */
  command(prepared: P, askConsumed: 'TOTAL' | 'INDEXES' | undefined): object;
  /** What a successful answer holds for the outcome (read items); a throw fails the group. @default nothing */
  read?(prepared: P, output: TransactOutput, unmarshal: Unmarshal): unknown;
}

/** How a group ended, for the operator to turn into its outcome. */
export type GroupEnd<G, P> =
  | {
      status: 'done';
      group: G;
      index: number;
      attempts: number;
      prepared: P;
      output: TransactOutput;
      /** What `read` gave. */
      value?: unknown;
      /** An earlier group of this subscription with the same token was written less than 10 minutes before: this call changed nothing. */
      replayOf?: number;
    }
  | { status: 'cancelled'; group: G; index: number; attempts: number; prepared: P; reasons: TransactionReason[] }
  | { status: 'invalid' | 'failed'; group: G; index: number; attempts: number; error: TransactionError<G> };

/** A group refused before any call. */
export function invalidGroup<G>(
  operation: TransactSpec<G, PreparedGroup>['operation'],
  group: G,
  index: number,
  problem: TransactionProblem,
  message: string,
  action?: number,
  cause?: unknown,
): TransactionError<G> {
  return new TransactionError<G>('transaction.invalidGroup', message, {
    operation,
    groupIndex: index,
    action,
    problem,
    unprocessed: [group],
    attempts: 0,
    cause,
  });
}

const named = (error: unknown) => {
  const e = error as { name?: string; message?: string } | undefined;
  return `${e?.name ?? 'Error'}: ${e?.message ?? String(error)}`;
};

/** DynamoDB's reasons that are not `None`, each with the action it is about and, when returned, the item unmarshalled. */
export function reasonsOf(error: unknown, group: readonly unknown[], unmarshal: Unmarshal): TransactionReason[] {
  const reasons: TransactionReason[] = [];
  cancellationReasons(error).forEach((r, index) => {
    if (r.Code === undefined || r.Code === 'None') return;
    const reason: TransactionReason = { index, action: group[index], code: r.Code };
    if (r.Message) reason.message = r.Message;
    if (r.Item && Object.keys(r.Item).length > 0) {
      try {
        reason.item = unmarshal(r.Item);
      } catch (e) {
        reason.message = `${r.Message ?? r.Code} (the item DynamoDB returned could not be unmarshalled: ${(e as Error).message})`;
      }
    }
    reasons.push(reason);
  });
  return reasons;
}

/**
 * Why a group failed, naming it, the actions DynamoDB blamed, and what to do. `uncertain`: an attempt failed with a
 * transient error, after which DynamoDB may have applied the group; `token`: its attempts carried a token, so sending
 * the same group again within 10 minutes cannot apply it twice.
 */
export function transactFailureMessage(
  operation: string,
  index: number,
  code: TransactionErrorCode,
  cause: unknown,
  reasons: TransactionReason[],
  where: (action: number) => string,
  attempts: number,
  uncertain: boolean,
  token: boolean,
): string {
  const blamed = reasons.map((r) => `${where(r.index)}: ${r.code}${r.message ? ` (${r.message})` : ''}`).join('; ');
  const why = blamed ? `${named(cause)} — ${blamed}` : named(cause);
  const maybe = token
    ? 'An attempt failed with a transient error after which DynamoDB may have applied the group; sending the same group again within 10 minutes is safe (its token makes DynamoDB apply it at most once).'
    : 'An attempt failed with a transient error after which DynamoDB may have applied the group: read the items before sending it again.';
  if (code === 'transaction.nonRetryable')
    return `${operation} of group ${index} failed with ${why}. It was not retried. ${
      uncertain ? maybe : 'Nothing in the group was applied: fix the group, then send it again.'
    }`;
  return `${operation} of group ${index} still failed after ${attempts} attempts (last ${why}). ${
    uncertain
      ? maybe
      : 'Nothing in the group was applied: send it again later, lower concurrency, or raise maxAttempts or the table capacity.'
  }`;
}

// ---------------------------------------------------------------------------------------------------------------
// The RxJS shell

interface GroupEntry<G, P extends PreparedGroup> {
  index: number;
  group: G;
  prepared: P;
  items: readonly string[];
  attempts: number;
  /** An attempt failed with a transient error, after which DynamoDB may have applied the group. */
  uncertain: boolean;
}

interface Settings {
  client: DynamoDBSender;
  concurrency: number;
  maxAttempts: number;
  backoff: BackoffOptions;
  scheduler: SchedulerLike;
  random: () => number;
  onFailure: 'emit' | 'error';
  budget: CapacityBudget | undefined;
  onProgress: ((progress: Progress) => void) | undefined;
  backpressure: Backpressure | undefined;
  keyAttributes: Record<string, string[]>;
  /** `ReturnConsumedCapacity` sent: the user's, or TOTAL to correct a budget. */
  askConsumed: 'TOTAL' | 'INDEXES' | undefined;
  unmarshal: Unmarshal;
}

interface Stop {
  code: TransactionErrorCode;
  message: string;
  cause: unknown;
  attempts: number;
  index: number;
  action?: number;
  problem?: TransactionProblem;
  reasons?: TransactionReason[];
}

/** One subscription of a transaction operator. */
class TransactRun<G, P extends PreparedGroup, O> {
  private readonly gate = new GroupGate<GroupEntry<G, P>>();
  private readonly progress: ProgressTracker;
  private readonly controller = new AbortController();
  private readonly stopTaking = new Subject<void>();
  /** Every group taken and not settled (in `'error'` mode, failed ones stay), by input order. */
  private readonly open = new Map<number, G>();
  /** Calls and DescribeTable calls, for the teardown. */
  private readonly work = new Set<Subscription>();
  /** Backoff timers of groups waiting to go again. */
  private readonly timers = new Set<Subscription>();
  /** Groups taken and not yet prepared (their tables' key attributes not all known), in input order. */
  private waiting: Array<{ index: number; group: G; tables: string[] }> = [];
  private waitingHead = 0;
  private readonly keyAttributes = new Map<string, string[]>();
  private readonly describeErrors = new Map<string, unknown>();
  private readonly describing = new Set<string>();
  /** Tokens of groups written, with when: a later group with the same token within 10 minutes is a replay. */
  private readonly written = new Map<string, { index: number; at: number }>();
  private taken = 0;
  private inFlight = 0;
  private sourceDone: { error?: unknown } | undefined;
  private stop: Stop | undefined;
  private driving = false;
  private again = false;

  constructor(
    private readonly spec: TransactSpec<G, P>,
    private readonly s: Settings,
    private readonly outcome: (end: GroupEnd<G, P>) => O,
    private readonly subscriber: Subscriber<O>,
  ) {
    setMaxListeners(0, this.controller.signal);
    this.progress = new ProgressTracker(s.scheduler, s.onProgress, s.concurrency);
    for (const [table, attributes] of Object.entries(s.keyAttributes)) this.keyAttributes.set(table, attributes);
  }

  start(source: Observable<G>): () => void {
    const detach = this.s.backpressure?.attachSink(() => this.open.size);
    const input = source.pipe(takeUntil(this.stopTaking)).subscribe({
      next: (group) => this.take(group),
      error: (error: unknown) => this.end({ error }),
      complete: () => this.end({}),
    });
    return () => {
      this.stopTaking.next();
      input.unsubscribe();
      detach?.();
      // calls still in flight are aborted, also during the SDK's own backoff
      if (this.inFlight > 0) this.controller.abort();
      for (const w of [...this.work, ...this.timers]) w.unsubscribe();
      this.work.clear();
      this.timers.clear();
    };
  }

  private end(done: { error?: unknown }): void {
    this.sourceDone = done;
    this.drive();
  }

  private take(group: G): void {
    const index = this.taken++;
    this.progress.progress.taken++;
    this.open.set(index, group);
    const tables = this.spec.tablesOf(group, index);
    if (tables instanceof TransactionError) this.fail(index, group, undefined, tables);
    else {
      this.waiting.push({ index, group, tables });
      for (const table of tables) this.describe(table);
    }
    this.drive();
  }

  /** Reads a table's key attributes once (retried like a call); groups naming it wait, and later ones behind them. */
  private describe(table: string): void {
    if (this.keyAttributes.has(table) || this.describing.has(table) || this.describeErrors.has(table)) return;
    this.describing.add(table);
    const { maxAttempts, backoff, scheduler, random } = this.s;
    this.track(describeKeySchema(this.s.client, table).pipe(retryWithBackoff({ maxAttempts, backoff, scheduler, random })), {
      next: (schema) => this.keyAttributes.set(table, schema.attributes),
      error: (error) => {
        this.describing.delete(table);
        this.describeErrors.set(table, error);
        this.drive();
      },
      complete: () => {
        this.describing.delete(table);
        this.drive();
      },
    });
  }

  /** Prepares the waiting groups whose tables are known, in input order, and admits them to the gate. */
  private admitWaiting(): void {
    while (this.waitingHead < this.waiting.length && !this.stop) {
      const { index, group, tables } = this.waiting[this.waitingHead]!;
      if (tables.some((t) => !this.keyAttributes.has(t) && !this.describeErrors.has(t))) break;
      this.waiting[this.waitingHead++] = undefined as never;
      const failed = tables.find((t) => this.describeErrors.has(t));
      if (failed !== undefined) {
        const cause = this.describeErrors.get(failed);
        const message = `DescribeTable of ${failed} failed with ${named(cause)}; the table's key attributes are needed to check group ${index} (pass keyAttributes to do without). It was not sent.`;
        this.fail(index, group, undefined, this.error('transaction.nonRetryable', message, index, group, 0, cause));
        continue;
      }
      let prepared: P | TransactionError<G>;
      try {
        prepared = this.spec.prepare(group, index, (t) => this.keyAttributes.get(t)!);
      } catch (error) {
        const message = `Group ${index} could not be prepared: ${(error as Error).message}. It was not sent.`;
        prepared = invalidGroup(this.spec.operation, group, index, 'group.malformed', message, undefined, error);
      }
      if (prepared instanceof TransactionError) this.fail(index, group, undefined, prepared);
      else this.gate.admit({ index, group, prepared, items: prepared.items, attempts: 0, uncertain: false });
    }
    if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.waitingHead);
      this.waitingHead = 0;
    }
  }

  /** Does what can be done now; a call from inside (an answer given synchronously) runs the loop once more instead. */
  private drive(): void {
    if (this.driving) return void (this.again = true);
    this.driving = true;
    try {
      do {
        this.again = false;
        this.step();
      } while (this.again && !this.subscriber.closed);
    } finally {
      this.driving = false;
    }
  }

  private step(): void {
    if (this.subscriber.closed) return;
    this.admitWaiting();
    while (!this.stop && this.inFlight < this.s.concurrency) {
      const entry = this.gate.next();
      if (!entry) break;
      this.send(entry);
    }
    if (this.stop) return this.inFlight === 0 ? this.halt() : undefined;
    if (this.sourceDone && this.open.size === 0 && this.inFlight === 0) {
      this.progress.report(true);
      const { error } = this.sourceDone;
      return error !== undefined ? this.subscriber.error(error) : this.subscriber.complete();
    }
  }

  /** `'error'` mode, once the calls in flight are back: every group taken and not settled, handed back. */
  private halt(): void {
    const { code, message, cause, attempts, index, action, problem, reasons } = this.stop!;
    const unprocessed = [...this.open.entries()].sort(([a], [b]) => a - b).map(([, g]) => g);
    const n = unprocessed.length;
    const text = `${message} The stream stopped (onFailure: 'error'): ${n} group${n === 1 ? '' : 's'} taken and not settled ${n === 1 ? 'is' : 'are'} in unprocessed.`;
    this.progress.report(true);
    const { operation } = this.spec;
    this.subscriber.error(
      new TransactionError<G>(code, text, { operation, groupIndex: index, action, problem, reasons, unprocessed, attempts, cause }),
    );
  }

  private track<T>(
    work: Observable<T>,
    observer: { next?: (value: T) => void; error: (error: unknown) => void; complete?: () => void },
  ): void {
    let subscription: Subscription | undefined = undefined;
    const end = () => subscription && this.work.delete(subscription);
    subscription = work.subscribe({
      next: observer.next,
      error: (error: unknown) => {
        end();
        observer.error(error);
      },
      complete: () => {
        end();
        observer.complete?.();
      },
    });
    if (!subscription.closed) this.work.add(subscription);
  }

  private send(e: GroupEntry<G, P>): void {
    const { s } = this;
    e.attempts++;
    this.inFlight++;
    const call = sendCommand<TransactOutput>(s.client, this.spec.command(e.prepared, s.askConsumed), this.controller.signal);
    const use = { client: s.client, table: e.prepared.table, kind: this.spec.kind, scheduler: s.scheduler };
    const paid = s.budget ? s.budget.spend(e.prepared.units, use).pipe(concatMap(() => call)) : call;
    let output: { value: TransactOutput } | undefined;
    this.track(paid, {
      next: (value) => (output = { value }),
      error: (error) => this.answered(e, { error }),
      complete: () => this.answered(e, output ? { output: output.value } : { error: new Error(`${this.spec.operation} gave no response`) }),
    });
  }

  /** A call came back: the group is settled, or goes again after its backoff. */
  private answered(e: GroupEntry<G, P>, answer: { error: unknown } | { output: TransactOutput }): void {
    const { s, spec } = this;
    this.inFlight--;
    let step = decideTransact(answer, e.attempts, s.maxAttempts);
    // reads have no conditions: a cancellation that blames one is not an outcome of theirs
    if (step.kind === 'cancelled' && spec.kind === 'read') step = { kind: 'failed', code: 'transaction.nonRetryable' };
    const output = 'output' in answer ? answer.output : undefined;
    const error = 'error' in answer ? answer.error : undefined;
    // what DynamoDB says was consumed; a call refused or failed consumed nothing, a cancelled one keeps its estimate
    const units = unitsConsumed(output?.ConsumedCapacity) ?? (step.kind === 'done' || step.kind === 'cancelled' ? e.prepared.units : 0);
    s.budget?.correct(units - e.prepared.units);
    if (error !== undefined && mayHaveApplied(error)) e.uncertain = true;
    const pushedBack = step.kind === 'retry' || (step.kind === 'failed' && step.code === 'transaction.attemptsExhausted');
    this.progress.recordCall([e], pushedBack ? 1 : 0, units, s.concurrency, this.inFlight);
    const base = { group: e.group, index: e.index, attempts: e.attempts };
    if (step.kind === 'retry') {
      if (!this.stop) this.retryLater(e);
    } else if (step.kind === 'failed') {
      const reasons = reasonsOf(error, e.group as readonly unknown[], s.unmarshal);
      const where = (i: number) => e.prepared.where(i);
      const token = e.prepared.token !== undefined;
      const message = transactFailureMessage(spec.operation, e.index, step.code, error, reasons, where, e.attempts, e.uncertain, token);
      this.fail(e.index, e.group, e, this.error(step.code, message, e.index, e.group, e.attempts, error, reasons));
    } else if (step.kind === 'cancelled') {
      this.settle(e, {
        status: 'cancelled',
        ...base,
        prepared: e.prepared,
        reasons: reasonsOf(error, e.group as readonly unknown[], s.unmarshal),
      });
    } else {
      let value: unknown;
      try {
        value = spec.read?.(e.prepared, output!, s.unmarshal);
      } catch (cause) {
        const message = `${spec.operation} of group ${e.index} succeeded, but what DynamoDB returned could not be unmarshalled: ${(cause as Error).message}`;
        this.fail(e.index, e.group, e, this.error('transaction.nonRetryable', message, e.index, e.group, e.attempts, cause));
        this.progress.report();
        return this.drive();
      }
      const end: GroupEnd<G, P> = { status: 'done', ...base, prepared: e.prepared, output: output!, value };
      const replayOf = this.replayOf(e);
      if (replayOf !== undefined) end.replayOf = replayOf;
      this.settle(e, end);
    }
    this.progress.report();
    this.drive();
  }

  /** The earlier group of this subscription that was written with the same token less than 10 minutes ago, if any. */
  private replayOf(e: GroupEntry<G, P>): number | undefined {
    const { token } = e.prepared;
    if (token === undefined) return undefined;
    const now = this.s.scheduler.now();
    // tokens are kept in the order written: forget those DynamoDB has forgotten
    for (const [t, { at }] of this.written) {
      if (now - at < TOKEN_WINDOW_MS) break;
      this.written.delete(t);
    }
    const earlier = this.written.get(token);
    if (earlier) return earlier.index;
    // bounded memory for fast streams: only the most recent tokens are checked
    if (this.written.size >= REPLAY_MEMORY) this.written.delete(this.written.keys().next().value!);
    this.written.set(token, { index: e.index, at: now });
    return undefined;
  }

  private retryLater(e: GroupEntry<G, P>): void {
    const delay = backoffDelay(e.attempts, this.s.backoff, this.s.random);
    const timer: Subscription = this.s.scheduler.schedule(() => {
      this.timers.delete(timer);
      this.gate.again(e);
      this.drive();
    }, delay);
    this.timers.add(timer);
  }

  private error(
    code: TransactionErrorCode,
    message: string,
    index: number,
    group: G,
    attempts: number,
    cause: unknown,
    reasons?: TransactionReason[],
  ): TransactionError<G> {
    const { operation } = this.spec;
    return new TransactionError<G>(code, message, {
      operation,
      groupIndex: index,
      reasons: reasons && reasons.length > 0 ? reasons : undefined,
      unprocessed: [group],
      attempts,
      cause,
    });
  }

  /** A group failed: its outcome (`'emit'`), or the stream stops once the calls in flight are back (`'error'`). */
  private fail(index: number, group: G, e: GroupEntry<G, P> | undefined, error: TransactionError<G>): void {
    this.progress.progress.failed++;
    if (this.s.onFailure === 'error') {
      this.stopTaking.next();
      const { code, message, attempts, problem, reasons, cause, action } = error;
      this.stop ??= { code, message, cause, attempts, index, action, problem, reasons };
      // groups waiting out a backoff are not sent again: they are handed back with the rest
      for (const t of this.timers) t.unsubscribe();
      this.timers.clear();
      return;
    }
    const end: GroupEnd<G, P> = {
      status: error.code === 'transaction.invalidGroup' ? 'invalid' : 'failed',
      group,
      index,
      attempts: error.attempts,
      error,
    };
    if (e) this.gate.settled(e);
    this.emit(end, false);
  }

  private settle(e: GroupEntry<G, P>, end: GroupEnd<G, P>): void {
    this.gate.settled(e);
    this.emit(end, true);
  }

  private emit(end: GroupEnd<G, P>, done: boolean): void {
    this.open.delete(end.index);
    if (done) this.progress.progress.done++;
    this.s.backpressure?.release(1);
    this.subscriber.next(this.outcome(end));
  }
}

/** The engine as an operator: one run per subscription. */
export function transactEngine<G, P extends PreparedGroup, O>(
  client: DynamoDBSender,
  spec: TransactSpec<G, P>,
  options: TransactOptions & { onFailure?: 'emit' | 'error' },
  unmarshal: Unmarshal,
  outcome: (end: GroupEnd<G, P>) => O,
): OperatorFunction<G, O> {
  const budget = toBudget(options.capacity);
  const settings: Settings = {
    client,
    concurrency: options.concurrency ?? 4,
    maxAttempts: options.maxAttempts ?? 10,
    backoff: options.backoff ?? {},
    scheduler: options.scheduler ?? asyncScheduler,
    random: options.random ?? Math.random,
    onFailure: options.onFailure ?? 'emit',
    budget,
    onProgress: options.onProgress,
    backpressure: options.backpressure,
    keyAttributes: options.keyAttributes ?? {},
    askConsumed: options.returnConsumedCapacity ?? (budget ? 'TOTAL' : undefined),
    unmarshal,
  };
  return (source) => new Observable<O>((subscriber) => new TransactRun(spec, settings, outcome, subscriber).start(source));
}
