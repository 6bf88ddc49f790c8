/**
 * The RxJS shell of the engine behind dynamoUpdate, dynamoPut and dynamoDelete: one call per request, `concurrency`
 * calls in flight, the requests for one key sent one after another in input order, throttling and transient errors
 * retried after the backoff, one outcome per request. Its decisions are plain synchronous code in
 * `src/internal/itemWrite/`: what a call's answer means (`decideItem`), which request goes next (`ItemQueue`), how a
 * request is checked and prepared, what a failure says. `ItemWriteRun` wires them, as `BatchRun` does for the batch
 * operators. Each operator file only says how its request becomes a command (`ItemWriteSpec`). The public option and
 * result types of the three operators live here.
 */
import type { AttributeValue, ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import type { unmarshallOptions } from '@aws-sdk/util-dynamodb';
import {
  asyncScheduler,
  concatMap,
  from,
  Observable,
  type ObservableInput,
  type OperatorFunction,
  type SchedulerLike,
  type Subscriber,
} from 'rxjs';
import type { Backpressure } from '../backpressure.js';
import { type CapacityBudget, type CapacityOptions, toBudget } from '../capacity.js';
import { InvalidRequestError, ItemWriteError, type ItemWriteErrorCode } from '../errors.js';
import { backoffDelay, validateBackoff } from '../internal/backoff.js';
import { describeKeySchema, marshallOptionsOf, sendCommand, unmarshallOptionsOf } from '../internal/client.js';
import { decideItem, isThrottling } from '../internal/itemWrite/decide.js';
import {
  describeFailedMessage,
  itemFailureMessage,
  stoppedMessage,
  unmarshalFailedMessage,
  whereOf,
} from '../internal/itemWrite/messages.js';
import { type ItemWriteSpec, type PreparedWrite, prepareRequest } from '../internal/itemWrite/prepare.js';
import { ItemQueue } from '../internal/itemWrite/queue.js';
import { CallRun } from './callRunInternals.js';
import type { MarshalSettings } from '../internal/marshal.js';
import { validateKeyAttributes } from '../internal/options.js';
import { type Progress, ProgressTracker } from '../internal/progress.js';
import { isRetryableError } from '../internal/retryable.js';
import { sendResolved } from '../internal/engine/resolvedSend.js';
import { type Unmarshal, unmarshallerFor } from '../internal/unmarshal.js';
import type { BackoffOptions, DynamoDBSender, Item } from '../types.js';

type ItemOutput = { Attributes?: Record<string, AttributeValue>; ConsumedCapacity?: ConsumedCapacity };
const isPromise = (value: unknown): value is PromiseLike<unknown> => typeof (value as PromiseLike<unknown> | null)?.then === 'function';
const noResponse = (spec: { operation: string }) => new Error(`${spec.operation} gave no response`);

/** What became of one request. */
export type ItemWriteStatus =
  /** DynamoDB applied it. */
  | 'written'
  /** Its condition was false: DynamoDB changed nothing (`ConditionalCheckFailedException`). An outcome, not an error. */
  | 'conditionFailed'
  /** It was not written: see `error`. */
  | 'failed';

/** What a single-item write operator emits: one per request, in the order they are settled. */
export interface ItemWriteResult<R, A extends object = Item> {
  /** The request, as it came from the source. */
  request: R;
  status: ItemWriteStatus;
  /** `'written'` with `returnValues` other than `'NONE'`: the attributes DynamoDB returned, unmarshalled exactly. */
  attributes?: A;
  /**
   * `'conditionFailed'` with `returnCurrentOnConditionFailure: true`: the item as it is in the table (DynamoDB's
   * `ReturnValuesOnConditionCheckFailure: 'ALL_OLD'`); absent when there is no item with that key.
   */
  current?: A;
  /**
   * `'failed'`: why, naming the table and the key. (On `'written'`, only when the returned attributes could not be
   * unmarshalled with your `unmarshallOptions`: the write itself landed.)
   */
  error?: ItemWriteError<R>;
  /** Calls made for this request: 1 means no retry; 0 for a request refused before any call. */
  attempts: number;
  /** With `returnConsumedCapacity`: what the last call consumed, as DynamoDB reported it. */
  consumedCapacity?: ConsumedCapacity;
}

/** Options of `dynamoUpdate`, `dynamoPut` and `dynamoDelete`. */
export interface ItemWriteOptions {
  /** Calls in flight at once. A request waiting out its backoff holds no slot. @default 4 */
  concurrency?: number;
  /** Calls per request before giving up: one call and `maxAttempts - 1` retries. @default 10 */
  maxAttempts?: number;
  /** Backoff between attempts of a request. @default { baseDelayMs: 100, maxDelayMs: 20000, jitter: 'full' } */
  backoff?: BackoffOptions;
  /** Every delay (backoff, capacity budget) goes through this scheduler. @default asyncScheduler */
  scheduler?: SchedulerLike;
  /** Every random draw (jitter) comes from this function, returning a number in [0, 1). @default Math.random */
  random?: () => number;
  /**
   * When a request fails (refused before sending, an error that is not retried, attempts run out). `'emit'`: emit
   * its result with `status: 'failed'` and `error`, and go on. `'error'`: start no more calls, let the calls in flight
   * finish (their results are emitted), then error the stream with an `ItemWriteError` whose `unprocessed` holds every
   * request taken and not written (nor answered with a failed condition). A failed condition is never a failure.
   * @default 'emit' (unlike the batch operators: here every request has its own result, with its own status)
   */
  onFailure?: 'emit' | 'error';
  /**
   * A budget of capacity units per second (a `capacity()` handle or its options): each call first spends its
   * estimate — a put one unit per started KB of its item, an update or delete 1 unit — then the budget is corrected
   * by what DynamoDB reports it consumed (asked for with `ReturnConsumedCapacity: 'TOTAL'`). @default none
   */
  capacity?: CapacityBudget | CapacityOptions;
  /**
   * Called with the counts so far after every call, and once more at the end (`complete: true`). `done` counts the
   * requests written or answered with a failed condition; `requestAttempts` equals `calls`. @default none
   */
  onProgress?: (progress: Progress) => void;
  /** The link to release as requests are settled (written, condition failed, or failed). @default none */
  backpressure?: Backpressure;
  /** Asks DynamoDB for the capacity each call consumed, reported in each result's `consumedCapacity`. @default not asked */
  returnConsumedCapacity?: 'TOTAL' | 'INDEXES';
  /** On a failed condition, read the item as it is (`current`) in the same call. @default false */
  returnCurrentOnConditionFailure?: boolean;
  /** How keys, items and expression values are marshalled. @default the document client's, else `{ removeUndefinedValues: true, convertClassInstanceToMap: true }` */
  marshallOptions?: MarshalSettings;
  /** How returned attributes are unmarshalled. @default the document client's if it has some, else exact (see dynamoBatchGet) */
  unmarshallOptions?: unmarshallOptions;
  /**
   * The table's key attribute names, partition key first. `dynamoPut` finds each item's key with them (without them
   * it reads them once with DescribeTable, cached per client); `dynamoUpdate` and `dynamoDelete` then refuse, before
   * sending, a key that lacks one of them or has another attribute. @default put: DescribeTable; update, delete: not checked
   */
  keyAttributes?: string[];
}

/**
 * Checks the options when the operator is created; throws a RangeError (a TypeError for a non-function) naming the bad
 * value. Its twin for the transaction operators is `validateTransactOptions` (`./transactInternals.ts`).
 */
export function validateItemWriteOptions(table: unknown, options: ItemWriteOptions): void {
  const { concurrency = 4, maxAttempts = 10, onFailure = 'emit', scheduler, random, onProgress, backpressure } = options;
  if (typeof table !== 'string' || table.length === 0) throw new RangeError(`table must be a non-empty string, got ${String(table)}`);
  if (!(Number.isInteger(concurrency) && concurrency >= 1))
    throw new RangeError(`concurrency must be an integer >= 1, got ${String(concurrency)}`);
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1))
    throw new RangeError(`maxAttempts must be an integer >= 1, got ${String(maxAttempts)}`);
  if (onFailure !== 'emit' && onFailure !== 'error') throw new RangeError(`onFailure must be 'emit' or 'error', got ${String(onFailure)}`);
  validateBackoff(options.backoff);
  const { returnConsumedCapacity: rcc, returnCurrentOnConditionFailure: rcf } = options;
  if (rcc !== undefined && rcc !== 'TOTAL' && rcc !== 'INDEXES')
    throw new RangeError(`returnConsumedCapacity must be 'TOTAL' or 'INDEXES', got ${JSON.stringify(rcc)}`);
  if (rcf !== undefined && typeof rcf !== 'boolean')
    throw new RangeError(`returnCurrentOnConditionFailure must be a boolean, got ${String(rcf)}`);
  if (scheduler !== undefined && (typeof scheduler?.schedule !== 'function' || typeof scheduler?.now !== 'function'))
    throw new TypeError(`scheduler must be an RxJS SchedulerLike (now and schedule), got ${String(scheduler)}`);
  for (const [name, f] of [
    ['random', random],
    ['onProgress', onProgress],
  ] as const)
    if (f !== undefined && typeof f !== 'function') throw new TypeError(`${name} must be a function, got ${String(f)}`);
  if (backpressure !== undefined && (typeof backpressure?.release !== 'function' || typeof backpressure?.attachSink !== 'function'))
    throw new TypeError(`backpressure must be a link made by backpressure(), got ${String(backpressure)}`);
  validateKeyAttributes(options.keyAttributes);
}

/** One request in the engine. */
interface ItemEntry<R> {
  id: number;
  request: R;
  key: string;
  prepared: PreparedWrite;
  attempts: number;
  /** An attempt failed with a transient error, after which DynamoDB may have applied the write. */
  uncertain: boolean;
}

/** The engine's settings: the options with their defaults applied. */
interface Settings {
  client: DynamoDBSender;
  table: string;
  concurrency: number;
  maxAttempts: number;
  backoff: BackoffOptions;
  scheduler: SchedulerLike;
  random: () => number;
  onFailure: 'emit' | 'error';
  budget: CapacityBudget | undefined;
  onProgress: ((progress: Progress) => void) | undefined;
  backpressure: Backpressure | undefined;
  returnConsumedCapacity: 'TOTAL' | 'INDEXES' | undefined;
  /** `ReturnConsumedCapacity` sent: the user's, or TOTAL to correct a budget. */
  askConsumed: 'TOTAL' | 'INDEXES' | undefined;
  returnCurrent: boolean;
  marshalling: MarshalSettings;
  unmarshal: Unmarshal;
}

/**
 * One subscription of a single-item write operator, on the wiring it shares with `TransactRun` (`CallRun`): one call
 * per request, requests for a key one after another, retries that hold no slot.
 */
class ItemWriteRun<R> extends CallRun<R, ItemWriteResult<R>> {
  private readonly queue = new ItemQueue<ItemEntry<R>>();
  private readonly progress: ProgressTracker;
  /** Requests taken before the key attributes are known (puts, while DescribeTable answers). */
  private waiting: Array<[number, R]> | undefined;
  private keyAttributes: string[] | undefined;
  private describeError: unknown;
  /** Requests taken and not yet prepared (admitted to the queue), from `backlogHead` on. */
  private readonly backlog: Array<[number, R]> = [];
  private backlogHead = 0;
  private stop: { code: ItemWriteErrorCode; message: string; cause: unknown; attempts: number; key?: Record<string, unknown> } | undefined;

  constructor(
    private readonly spec: ItemWriteSpec<R>,
    private readonly s: Settings,
    subscriber: Subscriber<ItemWriteResult<R>>,
  ) {
    super(subscriber, s.backpressure, s.scheduler);
    this.progress = new ProgressTracker(s.scheduler, s.onProgress, s.concurrency);
    if (Array.isArray(spec.keyAttributes)) this.keyAttributes = spec.keyAttributes;
  }

  protected take(request: R): void {
    const id = this.taken++;
    this.progress.progress.taken++;
    this.open.set(id, request);
    if (this.spec.keyAttributes !== 'describe' || this.keyAttributes || this.describeError !== undefined) this.backlog.push([id, request]);
    else if (this.waiting) this.waiting.push([id, request]);
    else this.describe([id, request]);
    this.drive();
  }

  /** Reads the table's key attributes, at the first request (cached per client); requests taken meanwhile wait. */
  private describe(first: [number, R]): void {
    this.waiting = [first];
    this.track(describeKeySchema(this.s.client, this.s.table), {
      next: (schema) => (this.keyAttributes = schema.attributes),
      error: (error) => {
        this.describeError = error;
        this.admitWaiting();
      },
      complete: () => this.admitWaiting(),
    });
  }

  private admitWaiting(): void {
    const waiting = this.waiting ?? [];
    this.waiting = undefined;
    this.backlog.push(...waiting);
    this.drive();
  }

  /**
   * Prepares requests from the backlog, in input order, while fewer than two calls' worth per slot are queued: a
   * source that hands over everything at once (an array) is prepared as the calls go, not all before the first one.
   */
  private fill(): void {
    const { backlog } = this;
    while (this.backlogHead < backlog.length && this.queue.queued < 2 * this.s.concurrency && !this.stop) {
      const [id, request] = backlog[this.backlogHead]!;
      backlog[this.backlogHead++] = undefined as never;
      this.admit(id, request);
    }
    if (this.backlogHead > 1024 && this.backlogHead * 2 > backlog.length) {
      backlog.splice(0, this.backlogHead);
      this.backlogHead = 0;
    }
  }

  private admit(id: number, request: R): void {
    if (this.describeError !== undefined) {
      const message = describeFailedMessage(this.s.table, this.describeError);
      return this.fail(id, request, 'itemWrite.nonRetryable', message, this.describeError, 0, undefined);
    }
    const prepared = prepareRequest(this.spec, request, this.keyAttributes, this.s.marshalling, this.s.table);
    if (prepared instanceof InvalidRequestError)
      return this.fail(id, request, 'itemWrite.invalidRequest', prepared.message, prepared, 0, undefined);
    this.queue.admit({ id, request, key: prepared.identity, prepared, attempts: 0, uncertain: false });
  }

  protected step(): void {
    if (this.subscriber.closed) return;
    if (this.stop) return this.inFlight === 0 ? this.halt() : undefined;
    this.fill();
    for (
      let e = this.inFlight < this.s.concurrency ? this.queue.next() : undefined;
      e;
      e = this.inFlight < this.s.concurrency && !this.stop ? this.queue.next() : undefined
    ) {
      this.send(e);
      this.fill();
    }
    if (this.stop) return this.inFlight === 0 ? this.halt() : undefined;
    if (this.sourceDone && this.open.size === 0 && this.inFlight === 0) {
      this.progress.report(true);
      const { error } = this.sourceDone;
      return error !== undefined ? this.subscriber.error(error) : this.subscriber.complete();
    }
  }

  /** `'error'` mode, once the calls in flight are back: every request taken and not written, handed back. Twin: `TransactRun.halt`. */
  private halt(): void {
    const { code, message, cause, attempts, key } = this.stop!;
    const unprocessed = this.unsettled();
    const text = stoppedMessage(message, unprocessed.length);
    this.progress.report(true);
    this.subscriber.error(new ItemWriteError<R>(code, text, { table: this.s.table, key, unprocessed, attempts, cause }));
  }

  private send(e: ItemEntry<R>): void {
    const { s, spec } = this;
    e.attempts++;
    this.inFlight++;
    // (the prepared input as it is unless flags are added: the command only reads it)
    let input = e.prepared.input;
    if (s.askConsumed || s.returnCurrent) {
      input = { ...input };
      if (s.askConsumed) input.ReturnConsumedCapacity = s.askConsumed;
      if (s.returnCurrent) input.ReturnValuesOnConditionCheckFailure = 'ALL_OLD';
    }
    const command = spec.command(input, s.client);
    let call: Observable<ItemOutput>;
    if (s.budget) call = sendCommand<ItemOutput>(s.client, command, this.controller.signal);
    else {
      // no budget to wait for: a promise the client gives is used as it is (an Observable around it costs a few µs a
      // call); an answer after unsubscribing is dropped, and the teardown aborts the call
      let sent: unknown;
      try {
        sent = sendResolved(s.client, command as object, { abortSignal: this.controller.signal });
      } catch (error) {
        return this.answered(e, { error });
      }
      if (isPromise(sent)) {
        sent.then(
          (output) => this.subscriber.closed || this.answered(e, output ? { output: output as ItemOutput } : { error: noResponse(spec) }),
          (error: unknown) => this.subscriber.closed || this.answered(e, { error }),
        );
        return;
      }
      call = from(sent as ObservableInput<ItemOutput>);
    }
    const use = { client: s.client, table: s.table, kind: 'write' as const, scheduler: s.scheduler };
    const paid = s.budget ? s.budget.spend(e.prepared.units, use).pipe(concatMap(() => call)) : call;
    let output: { value: ItemOutput } | undefined;
    this.track(paid, {
      next: (value) => (output = { value }),
      error: (error) => this.answered(e, { error }),
      complete: () => this.answered(e, output ? { output: output.value } : { error: noResponse(spec) }),
    });
  }

  /** A call came back: the request is settled, or goes again after its backoff. */
  private answered(
    e: ItemEntry<R>,
    answer: { error: unknown } | { output: { Attributes?: Record<string, AttributeValue>; ConsumedCapacity?: ConsumedCapacity } },
  ): void {
    const { s } = this;
    this.inFlight--;
    const step = decideItem(answer, e.attempts, s.maxAttempts);
    const output = 'output' in answer ? answer.output : undefined;
    const error = 'error' in answer ? answer.error : undefined;
    const reported = output?.ConsumedCapacity?.CapacityUnits;
    const units = reported ?? (step.kind === 'written' || step.kind === 'conditionFailed' ? e.prepared.units : 0);
    s.budget?.correct(units - e.prepared.units);
    if (error !== undefined && isThrottling(error)) s.budget?.throttled?.(e.prepared.units);
    if (error !== undefined && step.kind !== 'conditionFailed' && isRetryableError(error) && !isThrottling(error)) e.uncertain = true;
    const pushedBack = step.kind === 'retry' || (step.kind === 'failed' && step.code === 'itemWrite.attemptsExhausted');
    this.progress.recordCall([e], pushedBack ? 1 : 0, units, s.concurrency, this.inFlight);
    if (step.kind === 'retry') {
      if (!this.stop) this.retryLater(e);
    } else if (step.kind === 'failed') {
      const message = itemFailureMessage(this.spec.operation, whereOf(s.table, e.prepared), step.code, error, e.attempts, e.uncertain);
      this.fail(e.id, e.request, step.code, message, error, e.attempts, e);
    } else {
      const result: ItemWriteResult<R> = { request: e.request, status: step.kind, attempts: e.attempts };
      try {
        if (output?.Attributes && Object.keys(output.Attributes).length > 0) result.attributes = s.unmarshal(output.Attributes);
        const item = (error as { Item?: Record<string, AttributeValue> } | undefined)?.Item;
        if (step.kind === 'conditionFailed' && item && Object.keys(item).length > 0) result.current = s.unmarshal(item);
      } catch (cause) {
        const message = unmarshalFailedMessage(this.spec.operation, whereOf(s.table, e.prepared), cause);
        result.error = new ItemWriteError<R>('itemWrite.nonRetryable', message, {
          table: s.table,
          key: e.prepared.key,
          unprocessed: [],
          attempts: e.attempts,
          cause,
        });
      }
      if (s.returnConsumedCapacity && output?.ConsumedCapacity) result.consumedCapacity = output.ConsumedCapacity;
      this.settle(e, result);
    }
    this.progress.report();
    this.drive();
  }

  /** After its backoff the request is queued again, first; meanwhile it holds no slot. Twin: `TransactRun.retryLater`. */
  private retryLater(e: ItemEntry<R>): void {
    this.later(backoffDelay(e.attempts, this.s.backoff, this.s.random), () => this.queue.again(e));
  }

  /**
   * A request failed: its result (`'emit'`), or the stream stops once the calls in flight are back (`'error'`).
   * Twin: `TransactRun.fail`.
   */
  private fail(
    id: number,
    request: R,
    code: ItemWriteErrorCode,
    message: string,
    cause: unknown,
    attempts: number,
    e: ItemEntry<R> | undefined,
  ): void {
    this.progress.progress.failed++;
    if (this.s.onFailure === 'error') {
      this.stop ??= { code, message, cause, attempts, key: e?.prepared.key };
      return this.stopAll();
    }
    const error = new ItemWriteError<R>(code, message, {
      table: this.s.table,
      key: e?.prepared.key,
      unprocessed: [request],
      attempts,
      cause,
    });
    const result: ItemWriteResult<R> = { request, status: 'failed', error, attempts };
    if (e) this.settle(e, result, false);
    else this.emit(id, result, false);
  }

  private settle(e: ItemEntry<R>, result: ItemWriteResult<R>, done = true): void {
    this.queue.settled(e);
    this.emit(e.id, result, done);
  }

  private emit(id: number, result: ItemWriteResult<R>, done: boolean): void {
    this.settled(id);
    if (done) this.progress.progress.done++;
    this.subscriber.next(result);
  }
}

/** The engine as an operator: one run per subscription. */
export function itemWriteEngine<R>(
  client: DynamoDBSender,
  table: string,
  spec: ItemWriteSpec<R>,
  options: ItemWriteOptions,
): OperatorFunction<R, ItemWriteResult<R>> {
  const budget = toBudget(options.capacity);
  const settings: Settings = {
    client,
    table,
    concurrency: options.concurrency ?? 4,
    maxAttempts: options.maxAttempts ?? 10,
    backoff: options.backoff ?? {},
    scheduler: options.scheduler ?? asyncScheduler,
    random: options.random ?? Math.random,
    onFailure: options.onFailure ?? 'emit',
    budget,
    onProgress: options.onProgress,
    backpressure: options.backpressure,
    returnConsumedCapacity: options.returnConsumedCapacity,
    askConsumed: options.returnConsumedCapacity ?? (budget ? 'TOTAL' : undefined),
    returnCurrent: options.returnCurrentOnConditionFailure ?? false,
    marshalling: options.marshallOptions ?? marshallOptionsOf(client),
    unmarshal: unmarshallerFor(options.unmarshallOptions ?? unmarshallOptionsOf(client)),
  };
  return (source) => new Observable<ItemWriteResult<R>>((subscriber) => new ItemWriteRun(spec, settings, subscriber).start(source));
}
