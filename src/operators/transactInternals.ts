/**
 * The RxJS shell of the engine behind dynamoTransactWrite and dynamoTransactGet: one TransactWriteItems /
 * TransactGetItems call per group, `concurrency` calls in flight, groups that touch a common item sent one after
 * another in input order (so they never conflict with each other), conflicts, throttling and transient errors retried
 * after the backoff, one outcome per group. Its decisions are plain synchronous code in `src/internal/transact/`: what
 * an answer means (`decideTransact`), which group may go next (`GroupGate`), what a group must be (`tablesOfGroup`),
 * the idempotency token and its replays (`contentToken`, `ReplayMemory`), what a failure says. `TransactRun` wires
 * them, as `BatchRun` does for the batch operators. Each operator file says how its group becomes a command
 * (`TransactSpec`). The options both operators take (`TransactOptions`, public) live here.
 */
import type { unmarshallOptions } from '@aws-sdk/util-dynamodb';
import { asyncScheduler, concatMap, Observable, type OperatorFunction, type SchedulerLike, type Subscriber } from 'rxjs';
import type { Backpressure } from '../backpressure.js';
import { type CapacityBudget, type CapacityOptions, toBudget, unitsConsumed } from '../capacity.js';
import { TransactionError, type TransactionErrorCode, type TransactionProblem, type TransactionReason } from '../errors.js';
import { backoffDelay, validateBackoff } from '../internal/backoff.js';
import { describeKeySchema, sendCommand } from '../internal/client.js';
import type { MarshalSettings } from '../internal/marshal.js';
import { validateKeyAttributes } from '../internal/options.js';
import { type Progress, ProgressTracker } from '../internal/progress.js';
import { retryWithBackoff } from '../internal/retryCall.js';
import { decideTransact, mayHaveApplied, reasonsOf } from '../internal/transact/decide.js';
import { GroupGate } from '../internal/transact/gate.js';
import { isObject, prepareGroup } from '../internal/transact/group.js';
import { describeFailedMessage, stoppedMessage, transactFailureMessage, unmarshalFailedMessage } from '../internal/transact/messages.js';
import type { GroupEnd, PreparedGroup, TransactOutput, TransactSpec } from '../internal/transact/spec.js';
import { ReplayMemory } from '../internal/transact/token.js';
import { isThrottlingError } from '../internal/retryable.js';
import { CallRun } from './callRunInternals.js';
import type { Unmarshal } from '../internal/unmarshal.js';
import type { BackoffOptions, DynamoDBSender } from '../types.js';

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

/**
 * Checks the options when the operator is created; throws a RangeError (a TypeError for a non-function) naming the bad
 * value. Its twin for the single-item operators is `validateItemWriteOptions` (`./itemWriteInternals.ts`).
 */
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

/**
 * One subscription of a transaction operator, on the wiring it shares with `ItemWriteRun` (`CallRun`): one call per
 * group, groups that share an item one after another, retries that hold no slot.
 */
class TransactRun<G, P extends PreparedGroup, O> extends CallRun<G, O> {
  private readonly gate = new GroupGate<GroupEntry<G, P>>();
  private readonly progress: ProgressTracker;
  /** Every group taken and not settled (in `'error'` mode, failed ones stay), by input order. */
  /** Calls and DescribeTable calls, for the teardown. */
  /** Backoff timers of groups waiting to go again. */
  /** Groups taken and not yet prepared (their tables' key attributes not all known), in input order. */
  private waiting: Array<{ index: number; group: G; tables: string[] }> = [];
  private waitingHead = 0;
  private readonly keyAttributes = new Map<string, string[]>();
  private readonly describeErrors = new Map<string, unknown>();
  private readonly describing = new Set<string>();
  /** Tokens of groups written, with when: a later group with the same token within 10 minutes is a replay. */
  private readonly written = new ReplayMemory();
  private stop: Stop | undefined;

  constructor(
    private readonly spec: TransactSpec<G, P>,
    private readonly s: Settings,
    private readonly outcome: (end: GroupEnd<G, P>) => O,
    subscriber: Subscriber<O>,
  ) {
    super(subscriber, s.backpressure, s.scheduler);
    this.progress = new ProgressTracker(s.scheduler, s.onProgress, s.concurrency);
    for (const [table, attributes] of Object.entries(s.keyAttributes)) this.keyAttributes.set(table, attributes);
  }

  protected take(group: G): void {
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
    // prepared as the calls go: a source that hands over every group at once is not prepared whole before the first call
    while (this.waitingHead < this.waiting.length && !this.stop && this.gate.queued < 2 * this.s.concurrency) {
      const { index, group, tables } = this.waiting[this.waitingHead]!;
      if (tables.some((t) => !this.keyAttributes.has(t) && !this.describeErrors.has(t))) break;
      this.waiting[this.waitingHead++] = undefined as never;
      const failed = tables.find((t) => this.describeErrors.has(t));
      if (failed !== undefined) {
        const cause = this.describeErrors.get(failed);
        const message = describeFailedMessage(failed, index, cause);
        this.fail(index, group, undefined, this.error('transaction.nonRetryable', message, index, group, 0, cause));
        continue;
      }
      const prepared = prepareGroup(this.spec, group, index, (t) => this.keyAttributes.get(t)!);
      if (prepared instanceof TransactionError) this.fail(index, group, undefined, prepared);
      else this.gate.admit({ index, group, prepared, items: prepared.items, attempts: 0, uncertain: false });
    }
    if (this.waitingHead > 1024 && this.waitingHead * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.waitingHead);
      this.waitingHead = 0;
    }
  }

  protected step(): void {
    if (this.subscriber.closed) return;
    this.admitWaiting();
    while (!this.stop && this.inFlight < this.s.concurrency) {
      const entry = this.gate.next();
      if (!entry) break;
      this.send(entry);
      this.admitWaiting();
    }
    if (this.stop) return this.inFlight === 0 ? this.halt() : undefined;
    if (this.sourceDone && this.open.size === 0 && this.inFlight === 0) {
      this.progress.report(true);
      const { error } = this.sourceDone;
      return error !== undefined ? this.subscriber.error(error) : this.subscriber.complete();
    }
  }

  /** `'error'` mode, once the calls in flight are back: every group taken and not settled, handed back. Twin: `ItemWriteRun.halt`. */
  private halt(): void {
    const { code, message, cause, attempts, index, action, problem, reasons } = this.stop!;
    const unprocessed = this.unsettled();
    const text = stoppedMessage(message, unprocessed.length);
    this.progress.report(true);
    const { operation } = this.spec;
    this.subscriber.error(
      new TransactionError<G>(code, text, { operation, groupIndex: index, action, problem, reasons, unprocessed, attempts, cause }),
    );
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
    // a group DynamoDB throttled is charged to a shared budget (and cuts its rate): every worker slows down
    if (error !== undefined && isThrottlingError(error)) s.budget?.throttled?.(e.prepared.units);
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
        const message = unmarshalFailedMessage(spec.operation, e.index, cause);
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
    return this.written.replayOf(token, e.index, this.s.scheduler.now());
  }

  /** After its backoff the group is queued again, first; meanwhile it holds no slot. Twin: `ItemWriteRun.retryLater`. */
  private retryLater(e: GroupEntry<G, P>): void {
    this.later(backoffDelay(e.attempts, this.s.backoff, this.s.random), () => this.gate.again(e));
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

  /**
   * A group failed: its outcome (`'emit'`), or the stream stops once the calls in flight are back (`'error'`).
   * Twin: `ItemWriteRun.fail`.
   */
  private fail(index: number, group: G, e: GroupEntry<G, P> | undefined, error: TransactionError<G>): void {
    this.progress.progress.failed++;
    if (this.s.onFailure === 'error') {
      const { code, message, attempts, problem, reasons, cause, action } = error;
      this.stop ??= { code, message, cause, attempts, index, action, problem, reasons };
      return this.stopAll();
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
    this.settled(end.index);
    if (done) this.progress.progress.done++;
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
