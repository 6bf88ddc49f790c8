import type { GetRequest, WriteRequest } from './types.js';
import type { StreamCheckpoint } from './internal/stream/shardBook.js';

/**
 * What the batch errors share: a stable `code`, every request taken and not done (`unprocessed`, in input order),
 * the calls the failing batch made, and the last underlying error as `cause`.
 */
export abstract class BatchError<Code extends string, Request> extends Error {
  /** Stable reason code: branch on it, never on the message. */
  readonly code: Code;
  /** Every request taken from the source and not (known to be) done, in input order. */
  readonly unprocessed: Request[];
  /** Batch calls the failing batch made. */
  readonly attempts: number;

  constructor(code: Code, message: string, details: { unprocessed: Request[]; attempts: number; cause?: unknown }) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.unprocessed = details.unprocessed;
    this.attempts = details.attempts;
  }
}

/** Why a write did not happen. Tests and callers branch on `code`, never on the message. */
export type BatchWriteErrorCode =
  /** A batch still had unprocessed requests, or kept failing with throttling errors, after `maxAttempts` calls. */
  | 'batchWrite.attemptsExhausted'
  /** A call failed with an error that is not retried (ValidationException, ResourceNotFoundException, access…). */
  | 'batchWrite.nonRetryable'
  /** A request was rejected before any call: see `cause`, an {@link InvalidRequestError}. */
  | 'batchWrite.invalidRequest';

/**
 * The error a write operator fails with (`onFailure: 'error'`), or the `error` of a failure result
 * (`onFailure: 'emit'`). It hands back every request not written, so nothing is lost: re-send `unprocessed` once the
 * cause is fixed. Puts and deletes are idempotent, so a request whose call was cancelled mid-flight (and may or may
 * not have landed) is listed too, and is safe to send again.
 */
export class BatchWriteError extends BatchError<BatchWriteErrorCode, WriteRequest> {
  override readonly name = 'BatchWriteError';
}

/** Why a single request was rejected before it was sent. */
export type InvalidRequestCode =
  /** Not `{ table, put }` or `{ table, delete }`, or the table name is not a string. */
  | 'request.malformed'
  /** A key attribute is missing. */
  | 'request.missingKey'
  /** A key attribute is not a string, number or binary, or is an empty string or binary. */
  | 'request.invalidKey'
  /** The item could not be marshalled (for example an `undefined`, a function or a class instance). */
  | 'request.marshallFailed'
  /** Over 400 KB by DynamoDB's item-size rules. */
  | 'request.itemTooLarge';

/** A request rejected on its own, before any call, with the item's table and key in the message. */
export class InvalidRequestError extends Error {
  override readonly name = 'InvalidRequestError';
  readonly code: InvalidRequestCode;
  /** The offending request, as it came in. */
  readonly request: unknown;

  constructor(code: InvalidRequestCode, message: string, request: unknown, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.request = request;
  }
}

/** Why a read did not happen. */
export type BatchGetErrorCode =
  /** Keys were still unprocessed, or calls kept failing with throttling errors, after `maxAttempts` calls. */
  | 'batchGet.attemptsExhausted'
  /** A call failed with an error that is not retried (ValidationException, ResourceNotFoundException, access…). */
  | 'batchGet.nonRetryable'
  /** A key was rejected before any call: see `cause`, an {@link InvalidRequestError}. */
  | 'batchGet.invalidRequest';

/**
 * The error a read operator fails with (`onFailure: 'error'`), or the `error` of a failure record
 * (`onFailure: 'emit'`): `unprocessed` lists every key taken from the source and not read, in input order.
 */
export class BatchGetError extends BatchError<BatchGetErrorCode, GetRequest> {
  override readonly name = 'BatchGetError';
}

/**
 * With `onFailure: 'emit'`, what `dynamoBatchGet` emits in place of an item for a key it could not read. Tell it
 * from items with `instanceof BatchGetFailure`.
 */
export class BatchGetFailure {
  constructor(
    readonly table: string,
    readonly key: Record<string, unknown>,
    readonly error: BatchGetError | InvalidRequestError,
  ) {}
}

/** Why a source stopped. */
export type SourceErrorCode =
  /** A page could not be read: the call kept failing with throttling or transient errors, or failed with another. */
  'source.pageFailed';

/**
 * The error a source (`dynamoScan`, `dynamoQuery`, `dynamoScanPages`, `dynamoQueryPages`, `dynamoParallelScan`) fails with: where to start again,
 * and the underlying error as `cause`. Every item of the pages before is emitted already; resume with
 * `{ startKey }` (or, for `dynamoParallelScan`, `{ segments, startKeys }`) and nothing is read twice or missed.
 */
export class SourceError extends Error {
  override readonly name = 'SourceError';
  readonly code: SourceErrorCode = 'source.pageFailed';

  constructor(
    message: string,
    /** The `LastEvaluatedKey` of the last page emitted: pass it as `startKey`. `undefined`: start from the beginning. */
    readonly startKey: Record<string, unknown> | undefined,
    cause: unknown,
    /** `dynamoParallelScan` only: the segments not finished (pass as `segments`) … */
    readonly segments?: number[],
    /** … and where each of them starts again (pass as `startKeys`); a segment not in it starts from its beginning. */
    readonly startKeys?: Record<number, Record<string, unknown>>,
  ) {
    super(message, { cause });
  }
}

/** Why a single-item write (`dynamoUpdate`, `dynamoPut`, `dynamoDelete`) did not happen. Branch on it, never on the message. */
export type ItemWriteErrorCode =
  /** The call kept failing with throttling or transient errors for `maxAttempts` calls. */
  | 'itemWrite.attemptsExhausted'
  /** The call failed with an error that is not retried (ValidationException, ResourceNotFoundException, access…). */
  | 'itemWrite.nonRetryable'
  /** The request was refused before any call: see `cause`, an {@link InvalidRequestError}. */
  | 'itemWrite.invalidRequest';

/**
 * The `error` of a `'failed'` single-item write result, or (with `onFailure: 'error'`) the error the stream fails
 * with. The message names the table and the key; `cause` is what DynamoDB (or the check before sending) said.
 * `unprocessed` lists the failed request (in a result) or every request taken from the source and not written or
 * answered with a failed condition (as the stream's error), in input order.
 */
export class ItemWriteError<Request = unknown> extends BatchError<ItemWriteErrorCode, Request> {
  override readonly name = 'ItemWriteError';
  /** The table written to. */
  readonly table: string;
  /** The key of the request that failed (the key attributes of a put's item), when it could be found. */
  readonly key: Record<string, unknown> | undefined;

  constructor(
    code: ItemWriteErrorCode,
    message: string,
    details: { table: string; key: Record<string, unknown> | undefined; unprocessed: Request[]; attempts: number; cause?: unknown },
  ) {
    super(code, message, details);
    this.table = details.table;
    this.key = details.key;
  }
}

/** Why a transaction group (`dynamoTransactWrite`, `dynamoTransactGet`) was not written or read. Branch on it, never on the message. */
export type TransactionErrorCode =
  /** Refused before any call: see `problem` (too many actions, too large, two actions on one item, a malformed action…). */
  | 'transaction.invalidGroup'
  /**
   * A call failed with an error that is not retried (ValidationException, ResourceNotFoundException,
   * IdempotentParameterMismatchException, access…), or DynamoDB cancelled the transaction for a reason that is neither
   * a failed condition nor a conflict or throttling (a `ValidationError` reason: see `reasons`).
   */
  | 'transaction.nonRetryable'
  /** Still conflicting, throttled or failing transiently after `maxAttempts` calls. */
  | 'transaction.attemptsExhausted';

/** What was wrong with a group refused before any call (`code: 'transaction.invalidGroup'`). */
export type TransactionProblem =
  /** Not a non-empty array of actions. */
  | 'group.malformed'
  /** More than 100 actions. */
  | 'group.tooManyActions'
  /** Over DynamoDB's 4 MB transaction payload, or a request body over 16 MiB. */
  | 'group.tooLarge'
  /** Two actions on one item (same table and key). */
  | 'group.duplicateItem'
  /** `clientRequestToken` gave something that is not a string of 1 to 36 characters. */
  | 'group.invalidToken'
  /** An action is not one of the shapes taken (see `action`). */
  | 'action.malformed'
  /** A key attribute is missing, not a string, number or binary, or empty. */
  | 'action.invalidKey'
  /** An item, key or expression value could not be marshalled. */
  | 'action.marshallFailed'
  /** A put's item is over 400 KB by DynamoDB's item-size rules. */
  | 'action.itemTooLarge'
  /** An update or condition could not be compiled, or its names and values clash. */
  | 'action.invalidExpression';

/** One reason DynamoDB gave for cancelling a transaction (`CancellationReasons[i]`), mapped back to action `i` of the group. */
export interface TransactionReason<A = unknown, I = unknown> {
  /** Position of the action in its group. */
  index: number;
  /** The action, as it came in the group. */
  action: A;
  /** DynamoDB's code: `'ConditionalCheckFailed'`, `'TransactionConflict'`, `'ValidationError'`, `'ThrottlingError'`, … */
  code: string;
  /** DynamoDB's message, when it gave one. */
  message?: string;
  /** With `returnOnConditionFailure: true` on the action: the item as it was when its condition failed, unmarshalled. */
  item?: I;
}

/**
 * Why a transaction group was not written or read: the `error` of an `'invalid'` or `'failed'` outcome, or (with
 * `onFailure: 'error'`) the error the stream fails with. The message names the group (its position in the stream)
 * and, when one action is at fault, that action, its table and key. `unprocessed` lists the group (in an outcome), or
 * every group taken from the source and not settled (as the stream's error), in input order.
 */
export class TransactionError<Group = unknown> extends BatchError<TransactionErrorCode, Group> {
  override readonly name = 'TransactionError';
  readonly operation: 'TransactWriteItems' | 'TransactGetItems';
  /** Position of the group in the stream (0 for the first group taken). */
  readonly groupIndex: number;
  /** Position of the action at fault in its group, when one is. */
  readonly action: number | undefined;
  /** With `code: 'transaction.invalidGroup'`: what was wrong. */
  readonly problem: TransactionProblem | undefined;
  /** When DynamoDB cancelled the transaction: its reasons that are not `None`, mapped back to the actions. */
  readonly reasons: TransactionReason[] | undefined;

  constructor(
    code: TransactionErrorCode,
    message: string,
    details: {
      operation: 'TransactWriteItems' | 'TransactGetItems';
      groupIndex: number;
      action?: number;
      problem?: TransactionProblem;
      reasons?: TransactionReason[];
      unprocessed: Group[];
      attempts: number;
      cause?: unknown;
    },
  ) {
    super(code, message, details);
    this.operation = details.operation;
    this.groupIndex = details.groupIndex;
    this.action = details.action;
    this.problem = details.problem;
    this.reasons = details.reasons;
  }
}

/** Why a DynamoDB Streams source stopped. Branch on it, never on the message. */
export type StreamErrorCode =
  /** The table has no stream (or none enabled): turn one on with UpdateTable's `StreamSpecification`. */
  | 'stream.notEnabled'
  /** A Streams call kept failing with throttling or transient errors for `maxAttempts` calls, or failed with another error. */
  | 'stream.callFailed'
  /** A record could not be unmarshalled with the given `unmarshallOptions`. */
  | 'stream.unreadableRecord';

/**
 * The error a Streams source (`dynamoStream`, `dynamoStreamBatches`) fails with. Go on from the checkpoint of the
 * last batch you finished handling: batches still queued in your pipeline (inside a `concatMap`) are dropped by the
 * error. `checkpoint` is the one after the last batch *emitted*: use it only when you handled every batch as it came.
 */
export class StreamError extends Error {
  override readonly name = 'StreamError';

  constructor(
    readonly code: StreamErrorCode,
    message: string,
    /** The checkpoint after the last batch emitted (absent when the stream was never reached); see above. */
    readonly checkpoint: StreamCheckpoint | undefined,
    cause?: unknown,
  ) {
    super(message, { cause });
  }
}
