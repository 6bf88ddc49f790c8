/**
 * The batch engine's state and decisions, as plain synchronous code: requests taken and not yet settled (counted;
 * found again in the lanes and the calls in flight when they must be handed back), one lane per table, calls formed
 * from the lanes as slots free up, each call's answer applied entry by entry, and the stop in `'error'` mode (no new
 * call, no retry, calls in flight finish; then what is left is handed back). The RxJS shell
 * (`src/operators/batchInternals.ts`) feeds it and sends the calls it forms.
 */
import { type BatchError, InvalidRequestError } from '../../errors.js';
import { type CallAnswer, type Decision, decide, type Failure } from './decide.js';
import { describeKeyValues, type Entry, type Taken } from './entry.js';
import { Lane, type LaneSchema } from './lane.js';
import { describeFailedMessage, failureMessage, stopMessage, type Words } from './messages.js';

export type FailureCode = 'invalidRequest' | 'nonRetryable' | 'attemptsExhausted';

/** What makes the engine a write engine or a read engine. */
export interface EngineSpec<R> {
  /** `'order'`: later writes of a key wait for earlier ones; `'share'`: reads of a key share one answer. */
  mode: 'order' | 'share';
  words: Words;
  maxCount: number;
  maxBytes: number;
  tableOf(request: R): string | undefined;
  prepare(id: number, request: R, schema: LaneSchema): Entry<R> | InvalidRequestError;
  failure(code: FailureCode, message: string, cause: unknown, attempts: number, unprocessed: R[]): BatchError<string, R>;
}

export interface EngineSettings {
  maxAttempts: number;
  /** Batches (calls' worth of entries) each table keeps prepared and in flight, ahead of its calls. */
  lookahead: () => number;
  maxBatchWaitMs: number;
  isRetryable: (error: unknown) => boolean;
  onFailure: 'error' | 'emit';
  retryAt: (entry: Entry<unknown>, now: number) => number;
}

/** Settled: an entry (with the requests merged into it), or a request refused before it became one (`refused`). */
export type OnSettled<R> = (entry: Entry<R> | undefined, error: BatchError<string, R> | undefined, refused?: Taken<R>) => void;

/** Why the stream stops (`'error'` mode): its error is made when it halts, with everything not settled. */
export interface StopReason {
  code: FailureCode;
  message: string;
  cause: unknown;
  attempts: number;
}

export interface Call<R> {
  lane: Lane<R>;
  entries: Array<Entry<R>>;
}

const byId = (a: { id: number }, b: { id: number }) => a.id - b.id;
const NONE: readonly string[] = [];
/** The requests an entry answers for, in input order. */
export const requestsOf = <R>(entry: Entry<R>): Array<Taken<R>> =>
  entry.merged === undefined
    ? [{ id: entry.id, request: entry.request }]
    : [...entry.merged, { id: entry.id, request: entry.request }].sort(byId);
/** How many requests an entry answers for. */
export const countOf = (entry: Entry<unknown>): number => 1 + (entry.merged?.length ?? 0);

export class Engine<R> {
  private readonly lanes = new Map<string, Lane<R>>();
  private readonly laneList: Array<Lane<R>> = [];
  private readonly calls = new Set<Call<R>>();
  /** `'error'` mode: requests refused before a call, and entries that failed, kept to hand back. */
  private readonly refused: Array<Taken<R>> = [];
  private readonly failed: Array<Entry<R>> = [];
  private nextId = 0;
  private turn = 0;
  private toDescribe = 0;
  /** Requests taken and not settled. */
  unsettled = 0;
  inFlight = 0;
  /** Set in `'error'` mode by the first failure: nothing new starts; the stream errors once calls in flight are back. */
  stopped: StopReason | undefined;
  sourceDone = false;

  constructor(
    private readonly spec: EngineSpec<R>,
    private readonly settings: EngineSettings,
    private readonly onSettled: OnSettled<R>,
  ) {}

  /** A request from the source. */
  take(request: R): void {
    this.unsettled++;
    const table = this.spec.tableOf(request) ?? '';
    let lane = this.lanes.get(table);
    if (!lane) {
      this.lanes.set(table, (lane = new Lane<R>(table, this.spec.mode)));
      this.laneList.push(lane);
      this.toDescribe++;
    }
    lane.take(this.nextId++, request);
  }

  /** The source ended: every lane may send calls that are not full. */
  endOfSource(): void {
    this.sourceDone = true;
    for (const lane of this.laneList) lane.flush = true;
  }

  /** Lets each lane send one call that is not full (the backpressure link is waiting for what it holds). */
  flushOnce(): void {
    for (const lane of this.laneList) if (lane.pending > 0) lane.flushOnce = true;
  }

  /** Tables whose key schema is needed and not asked for yet (each is asked for once). */
  tablesToDescribe(): readonly string[] {
    if (this.toDescribe === 0) return NONE;
    this.toDescribe = 0;
    const tables: string[] = [];
    for (const lane of this.laneList)
      if (!lane.schema && !lane.schemaError && !lane.describing) {
        lane.describing = true;
        tables.push(lane.table);
      }
    return tables;
  }

  /** DynamoDB described a table (or the user named its key), or could not: its requests can be prepared, or fail. */
  described(table: string, schema: LaneSchema | undefined, error?: unknown): void {
    const lane = this.lanes.get(table)!;
    lane.describing = false;
    if (schema) lane.schema = schema;
    else lane.schemaError = { error };
  }

  /** Prepares taken requests while their lane has fewer than `lookahead` batches prepared or in flight. */
  prepare(now: number): void {
    const room = this.settings.lookahead() * this.spec.maxCount;
    for (const lane of this.laneList) {
      if (!lane.schema && !lane.schemaError) continue;
      while (!this.stopped && lane.gate.size < room && lane.waiting > 0) this.admit(lane, lane.peekId(), lane.shift(), now);
    }
  }

  private admit(lane: Lane<R>, id: number, request: R, now: number): void {
    if (lane.schemaError) return this.refuse({ id, request }, lane.table, lane.schemaError.error);
    const prepared = this.spec.prepare(id, request, lane.schema!);
    if (prepared instanceof InvalidRequestError) return this.refuse({ id, request }, lane.table, prepared);
    lane.admit(prepared, now);
  }

  /** A request that cannot be sent: refused before any call, or its table could not be described. */
  private refuse(taken: Taken<R>, table: string, error: unknown): void {
    const invalid = error instanceof InvalidRequestError;
    const message = invalid ? error.message : describeFailedMessage(table, error);
    const code = invalid ? 'invalidRequest' : 'nonRetryable';
    if (this.settings.onFailure === 'error') {
      this.refused.push(taken);
      this.stopped ??= { code, message, cause: error, attempts: 0 };
      return;
    }
    this.unsettled--;
    this.onSettled(undefined, this.spec.failure(code, message, error, 0, [taken.request]), taken);
  }

  /** The next call to send now, if a slot is free and a lane has one worth sending. */
  nextCall(now: number, limit: number): Call<R> | undefined {
    if (this.stopped || this.inFlight >= limit) return undefined;
    const lanes = this.laneList;
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[(this.turn + i) % lanes.length]!;
      const timedOut = lane.queuedCount > 0 && now >= lane.firstQueuedAt + this.settings.maxBatchWaitMs;
      const entries = lane.nextCall(now, this.spec.maxCount, this.spec.maxBytes, lane.flush || lane.flushOnce || timedOut);
      if (!entries) continue;
      lane.flushOnce = false;
      if (lane.queuedCount > 0) lane.firstQueuedAt = now;
      this.turn = (this.turn + i + 1) % lanes.length;
      for (const e of entries) e.attempts++;
      lane.inFlight++;
      this.inFlight++;
      const call = { lane, entries };
      this.calls.add(call);
      return call;
    }
    return undefined;
  }

  /** A call's answer, applied: entries done, sent again later, or failed. Returns the decision, for the pacer. */
  finish(call: Call<R>, answer: CallAnswer<R>, now: number): Decision<R> {
    this.calls.delete(call);
    call.lane.inFlight--;
    this.inFlight--;
    const decision = decide(call.entries, answer, this.settings.maxAttempts, this.settings.isRetryable);
    for (const entry of decision.done) this.settle(call.lane, entry);
    for (const entry of decision.again) {
      // the backoff follows this key's calls; requests held behind it then replace it (it was not written)
      const readyAt = this.settings.retryAt(entry, now);
      call.lane.gate.unprocessed(entry);
      call.lane.retry(entry, readyAt);
    }
    if (decision.failed.length > 0) this.fail(call, decision.failed);
    return decision;
  }

  private settle(lane: Lane<R>, entry: Entry<R>, error?: BatchError<string, R>): void {
    entry.state = 'settled';
    this.unsettled -= countOf(entry);
    this.onSettled(entry, error);
    // requests held behind it go next, without waiting for company: they have waited already
    const next = lane.gate.settled(entry);
    if (next) lane.retry(next, 0);
  }

  private fail(call: Call<R>, failed: Array<Failure<R>>): void {
    const { words } = this.spec;
    const attributes = call.lane.schema?.attributes ?? [];
    const code = (f: Failure<R>): FailureCode => (f.kind === 'exhausted' ? 'attemptsExhausted' : 'nonRetryable');
    const message = (f: Failure<R>) =>
      failureMessage(
        words,
        f,
        `table ${call.lane.table}, ${describeKeyValues(f.entry.values, attributes)}`,
        f.entry.attempts,
        call.entries.length > 1,
      );
    if (this.settings.onFailure === 'error') {
      for (const f of failed) this.failed.push(f.entry);
      const first = failed[0]!;
      this.stopped ??= {
        code: code(first),
        message: stopMessage(words, message(first), failed.length, call.entries.length),
        cause: first.cause,
        attempts: first.entry.attempts,
      };
      return;
    }
    for (const f of failed) {
      const requests = requestsOf(f.entry).map((r) => r.request);
      this.settle(call.lane, f.entry, this.spec.failure(code(f), message(f), f.cause, f.entry.attempts, requests));
    }
  }

  /** The error the stream stops with: every request taken and not settled, in input order, is in its `unprocessed`. */
  stopError(): BatchError<string, R> {
    const left: Array<Taken<R>> = [...this.refused];
    const add = (e: Entry<R>) => left.push(...requestsOf(e));
    this.failed.forEach(add);
    for (const call of this.calls) call.entries.forEach(add);
    for (const lane of this.laneList) {
      const { entries, raw } = lane.leftovers();
      entries.forEach(add);
      left.push(...raw);
    }
    const { code, message, cause, attempts } = this.stopped!;
    return this.spec.failure(
      code,
      message,
      cause,
      attempts,
      left.sort(byId).map((t) => t.request),
    );
  }

  /**
   * When the engine next has something to do by the clock (a retry due, a batch timing out), or `Infinity`. A time
   * already past means it waits for a free slot: an answer, not the clock, moves it on.
   */
  wakeAt(): number {
    let at = Infinity;
    for (const lane of this.laneList) {
      at = Math.min(at, lane.nextRetryAt);
      if (lane.queuedCount > 0 && !lane.flush) at = Math.min(at, lane.firstQueuedAt + this.settings.maxBatchWaitMs);
    }
    return at;
  }

  /** Everything taken is settled and the source has ended. */
  get idle(): boolean {
    return this.sourceDone && this.unsettled === 0 && this.inFlight === 0;
  }

  /** Stopped, and the calls that were in flight are back: time to hand back what is left. */
  get halted(): boolean {
    return this.stopped !== undefined && this.inFlight === 0;
  }
}
