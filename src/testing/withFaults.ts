import { seededRandom } from '../internal/random.js';
import type { DynamoDBSender } from '../types.js';
import {
  abortError,
  batchKind,
  partition,
  proxyClient,
  sendPartition,
  sendThrough,
  throttlingError,
  type SendOptions,
} from './internals.js';

/** Options of {@link withFaults}. */
export interface FaultOptions {
  /** Probability, per write request or get key of a batch call, that it is held back and returned unprocessed. @default 0 */
  unprocessedRate?: number;
  /**
   * Probability, per batch call or single-item write call (PutItem, UpdateItem, DeleteItem, and lib-dynamodb's
   * PutCommand, UpdateCommand, DeleteCommand), that it throws a throttling error instead of being sent. @default 0
   */
  throttleRate?: number;
  /**
   * The names of the errors thrown, one drawn per throttled call. `'InternalServerError'` gives an HTTP 500 server
   * fault; any other name an HTTP 400 client fault with `$retryable: { throttling: true }`.
   * @default ['ProvisionedThroughputExceededException']
   */
  errorNames?: readonly string[];
  /** Delay before every call (batch or not) is sent: a fixed number of milliseconds, or a `[min, max]` range. @default 0 */
  latencyMs?: number | readonly [number, number];
  /** Seed of the pseudo-random draws: the same seed and the same calls give the same faults. @default 1 */
  seed?: number;
  /** Every random draw comes from this function (returning a number in [0, 1)) instead. @default seededRandom(seed) */
  random?: () => number;
}

/** What a {@link withFaults} client has done so far. */
export interface FaultStats {
  /** Calls to `send`, of any command. */
  calls: number;
  /** Of those, the BatchWriteItem and BatchGetItem calls. */
  batchCalls: number;
  /** Batch and single-item write calls that threw an injected throttling error. */
  callsThrottled: number;
  /** Write requests and get keys held back and returned unprocessed (not counting DynamoDB's own). */
  requestsUnprocessed: number;
}

/** The extra method a {@link withFaults} client answers. */
export interface FaultClient {
  /** A snapshot of the client's {@link FaultStats}. */
  injectedFaultStats(): FaultStats;
}

/** Resolves after `ms` milliseconds of real time; rejects at once with an `AbortError` when `signal` aborts. */
function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortError());
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortError());
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

function checkRate(name: string, value: number): void {
  if (!(typeof value === 'number' && value >= 0 && value <= 1)) throw new RangeError(`${name} must be a number in [0, 1], got ${value}`);
}

function latencyRange(latencyMs: number | readonly [number, number]): readonly [number, number] {
  const range = typeof latencyMs === 'number' ? ([latencyMs, latencyMs] as const) : latencyMs;
  const valid = Array.isArray(range) && range.length === 2 && range.every((ms) => typeof ms === 'number' && Number.isFinite(ms) && ms >= 0);
  if (!valid || range[0] > range[1]) {
    throw new RangeError(`latencyMs must be a number >= 0 or a [min, max] range with 0 <= min <= max, got ${JSON.stringify(latencyMs)}`);
  }
  return range;
}

/** Single-item writes, which `throttleRate` throttles too: recognised by class name, in either form. */
const ITEM_WRITES = new Set(['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand', 'PutCommand', 'UpdateCommand', 'DeleteCommand']);
const isItemWrite = (command: unknown): boolean =>
  ITEM_WRITES.has((command as { constructor?: { name?: string } } | undefined)?.constructor?.name ?? '');

/**
 * Wraps a DynamoDB client so that its batch calls (and, with `throttleRate`, its single-item writes) fail the way
 * DynamoDB fails under load, at seedable random: some calls throw a throttling error, some write requests and get
 * keys come back in `UnprocessedItems` / `UnprocessedKeys` without being sent, and every call can wait a random
 * latency first.
 *
 * Faults are injected in `send`, before the SDK's own retries, so the code under test sees each one. The held-back
 * requests are merged with the real response's own unprocessed ones, in the command's form (marshalled or plain);
 * a call of which everything is held back, or that is throttled, never reaches the client. The random draws for a
 * call are all made when `send` is called, so the same seed and the same sequence of calls give the same faults.
 *
 * The wrapper has the client's type and properties; only `send` changes, and only for the batch commands
 * (`BatchWriteItemCommand`, `BatchGetItemCommand`, and lib-dynamodb's `BatchWriteCommand`, `BatchGetCommand`), with
 * `throttleRate` for the single-item writes, and with `latencyMs` for every command, whose `send` then returns a
 * Promise. If `options.abortSignal` aborts during the latency, the call rejects at once with an `AbortError`. Wrap
 * the client you hand to your code: `DynamoDBDocumentClient.from(wrapped)` would bypass `send`.
 *
 * ## Example
 * ```ts
 * import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
 * import { withFaults, faultStats } from 'rxjs-dynamodb/testing';
 *
 * const client = withFaults(new DynamoDBClient({}), { unprocessedRate: 0.3, throttleRate: 0.1, latencyMs: [5, 50], seed: 42 });
 * // … run the pipeline under test with `client`, then check the table holds every item …
 * faultStats(client); // { calls: 60, batchCalls: 60, callsThrottled: 6, requestsUnprocessed: 410 }
 * ```
 *
 * @param client A `DynamoDBClient`, a `DynamoDBDocumentClient`, or any wrapper with their `send`.
 * @param options Fault rates (default 0), error names, latency (default 0), seed (default 1) or `random`.
 * @returns A client of the same type that injects the faults, which also answers `injectedFaultStats()`.
 */
export function withFaults<C extends DynamoDBSender>(client: C, options: FaultOptions = {}): C & FaultClient {
  const {
    unprocessedRate = 0,
    throttleRate = 0,
    errorNames = ['ProvisionedThroughputExceededException'],
    latencyMs = 0,
    seed = 1,
  } = options;
  checkRate('unprocessedRate', unprocessedRate);
  checkRate('throttleRate', throttleRate);
  if (!Array.isArray(errorNames) || errorNames.length === 0 || !errorNames.every((name) => typeof name === 'string' && name !== '')) {
    throw new RangeError(`errorNames must be a non-empty array of error names, got ${JSON.stringify(errorNames)}`);
  }
  const [minLatency, maxLatency] = latencyRange(latencyMs);
  if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
  const random = options.random ?? seededRandom(seed);
  if (typeof random !== 'function') throw new TypeError(`random must be a function returning a number in [0, 1), got ${String(random)}`);
  const stats: FaultStats = { calls: 0, batchCalls: 0, callsThrottled: 0, requestsUnprocessed: 0 };

  async function send(command: Record<string, unknown>, sendOptions?: SendOptions): Promise<unknown> {
    const kind = batchKind(command);
    const wait = minLatency === maxLatency ? minLatency : minLatency + random() * (maxLatency - minLatency);
    const throttled = (kind !== undefined || isItemWrite(command)) && random() < throttleRate;
    const errorName = throttled ? errorNames[Math.floor(random() * errorNames.length)] : undefined;
    const split = kind && !throttled ? partition(command, kind, () => !(random() < unprocessedRate)) : undefined;
    if (wait > 0) await delay(wait, sendOptions?.abortSignal);
    if (errorName !== undefined) {
      stats.callsThrottled += 1;
      throw throttlingError(errorName);
    }
    if (!kind || !split) return sendThrough(client, command, sendOptions);
    stats.requestsUnprocessed += split.heldCount;
    return sendPartition(client, command, kind, split, sendOptions);
  }

  return proxyClient(
    client,
    (command) => {
      stats.calls += 1;
      const batch = batchKind(command) !== undefined;
      if (batch) stats.batchCalls += 1;
      return batch || maxLatency > 0 || (throttleRate > 0 && isItemWrite(command));
    },
    send,
    { injectedFaultStats: (): FaultStats => ({ ...stats }) },
  );
}

/**
 * What a client made by {@link withFaults} has done so far: calls seen, calls throttled, requests held back.
 *
 * ## Example
 * ```ts
 * import { faultStats } from 'rxjs-dynamodb/testing';
 * expect(faultStats(client).requestsUnprocessed).toBeGreaterThan(0);
 * ```
 *
 * @param client A client returned by `withFaults`, or any wrapper around one.
 * @returns A snapshot of its {@link FaultStats}.
 */
export function faultStats(client: object): FaultStats {
  const stats = (client as Partial<FaultClient>).injectedFaultStats;
  if (typeof stats !== 'function') throw new TypeError('faultStats() needs a client made by withFaults()');
  return stats();
}
