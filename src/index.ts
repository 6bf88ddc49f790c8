export { dynamoBatchWrite, type BatchWriteTableOptions } from './operators/dynamoBatchWrite.js';
export { dynamoBatchDelete } from './operators/dynamoBatchDelete.js';
export { dynamoBatchWriteRequests, type BatchWriteRequestsOptions } from './operators/dynamoBatchWriteRequests.js';
export type { BatchWriteOptions } from './operators/writeInternals.js';
export { bufferBatch, type BufferBatchOptions } from './operators/bufferBatch.js';
export {
  retryUnprocessed,
  type CallOutcome,
  type Rejection,
  type RetryStep,
  type RetryUnprocessedOptions,
} from './operators/retryUnprocessed.js';
export { backoffDelay, DEFAULT_BACKOFF } from './internal/backoff.js';
export { itemSize } from './internal/itemSize.js';
export { isRetryableError } from './internal/retryable.js';
export {
  ItemWriteError,
  type ItemWriteErrorCode,
  TransactionError,
  type TransactionErrorCode,
  type TransactionProblem,
  type TransactionReason,
  BatchError,
  BatchGetError,
  BatchGetFailure,
  BatchWriteError,
  InvalidRequestError,
  SourceError,
  type SourceErrorCode,
  StreamError,
  type StreamErrorCode,
  type BatchGetErrorCode,
  type BatchWriteErrorCode,
  type InvalidRequestCode,
} from './errors.js';
export { BATCH_WRITE_MAX_REQUESTS, BATCH_GET_MAX_KEYS, MAX_ITEM_BYTES, MAX_REQUEST_BYTES } from './internal/constants.js';
export type {
  BackoffOptions,
  BatchOptions,
  BatchWriteResult,
  DynamoDBSender,
  GetRequest,
  GetResponse,
  Item,
  Key,
  WriteRequest,
} from './types.js';
export { dynamoBatchGet, type BatchGetTableOptions } from './operators/dynamoBatchGet.js';
export { dynamoBatchGetRequests, type BatchGetRequestsOptions } from './operators/dynamoBatchGetRequests.js';
export { dynamoLookup, type Lookup } from './operators/dynamoLookup.js';
export type { BatchGetOptions } from './operators/getInternals.js';
export { dynamoScan } from './sources/dynamoScan.js';
export { dynamoScanPages } from './sources/dynamoScanPages.js';
export { dynamoQuery } from './sources/dynamoQuery.js';
export { dynamoQueryPages } from './sources/dynamoQueryPages.js';
export { dynamoParallelScan, type ParallelScanOptions } from './sources/dynamoParallelScan.js';
export { parallelScan, query, queryPages, scan, scanPages } from './sources/deprecatedNames.js';
export { fromAsyncIterable } from './sources/fromAsyncIterable.js';
export { dynamoStream } from './sources/dynamoStream.js';
export { dynamoStreamBatches } from './sources/dynamoStreamBatches.js';
export type { StreamOptions } from './sources/streamInternals.js';
export type { ChangeBatch, ChangeRecord } from './internal/stream/records.js';
export { compareSequenceNumbers, type ShardPosition, type StreamCheckpoint, type StreamStart } from './internal/stream/shardBook.js';
export type { Page, QueryInput, ScanInput, SourceOptions } from './sources/pageInternals.js';
export { backpressure, type Backpressure, type BackpressureOptions, type BackpressureStall } from './backpressure.js';
export { capacity, type CapacityBudget, type CapacityOptions } from './capacity.js';
export {
  redisCapacityStore,
  CapacityStoreError,
  type CapacityStore,
  type CapacityStoreErrorCode,
  type RateCut,
  type RedisCapacityStoreOptions,
} from './capacityStore.js';
export type { Progress } from './internal/progress.js';
export {
  compileExpressions,
  ifNotExists,
  increment,
  listAppend,
  type AttributePath,
  type CompiledExpressions,
  type Comparison,
  type Condition,
  type RawExpression,
  type SetValue,
  type UpdateFunction,
  type UpdateSpec,
} from './expressions.js';
export {
  dynamoUpdate,
  type RawUpdateRequest,
  type UpdateItemRequest,
  type UpdateReturnValues,
  type UpdateSpecRequest,
} from './operators/dynamoUpdate.js';
export { dynamoPut, type PutItemRequest, type PutOptions } from './operators/dynamoPut.js';
export { dynamoDelete, type DeleteItemRequest } from './operators/dynamoDelete.js';
export type { ItemWriteOptions, ItemWriteResult, ItemWriteStatus } from './operators/itemWriteInternals.js';
export {
  dynamoTransactWrite,
  type TransactCancelled,
  type TransactGroup,
  type TransactWriteAction,
  type TransactWriteFailure,
  type TransactWriteOptions,
  type TransactWriteResult,
  type TransactWritten,
} from './operators/dynamoTransactWrite.js';
export {
  dynamoTransactGet,
  type TransactGetAction,
  type TransactGetFailure,
  type TransactGetGroup,
  type TransactGetOptions,
  type TransactGetResult,
  type TransactRead,
} from './operators/dynamoTransactGet.js';
export type { TransactOptions } from './operators/transactInternals.js';
