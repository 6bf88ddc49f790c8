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
export { BatchWriteError, InvalidRequestError, type BatchWriteErrorCode, type InvalidRequestCode } from './internal/errors.js';
export { BATCH_WRITE_MAX_REQUESTS, BATCH_GET_MAX_KEYS, MAX_ITEM_BYTES, MAX_REQUEST_BYTES } from './internal/constants.js';
export type { BackoffOptions, BatchOptions, BatchWriteResult, DynamoDBSender, Item, Key, WriteRequest } from './internal/types.js';
