/**
 * Which errors a whole batch call may be retried after. Branches on error names, HTTP status and socket codes,
 * never on messages (DynamoDB Local's messages differ from the service's). See DYNAMODB-FACTS.md §4.
 */
const THROTTLING_NAMES = new Set([
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

/**
 * Throttling: DynamoDB (or AWS in front of it) refused the call before doing anything, so sending it again cannot
 * apply it twice — unlike a transient error (a 500, a timeout), after which the call may have been applied.
 */
export function isThrottlingError(error: unknown): boolean {
  const e = error as { name?: unknown; $retryable?: { throttling?: boolean }; $metadata?: { httpStatusCode?: number } } | undefined;
  return THROTTLING_NAMES.has(e?.name as string) || e?.$retryable?.throttling === true || e?.$metadata?.httpStatusCode === 429;
}

const RETRYABLE_NAMES = new Set([
  ...THROTTLING_NAMES,
  // transient
  'InternalServerError',
  'InternalFailure',
  'ServiceUnavailable',
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  $metadata?: { httpStatusCode?: unknown };
  $retryable?: unknown;
}

/** True for throttling and transient errors (retried with backoff); false for validation, access and missing tables. */
export function isRetryableError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as ErrorLike;
  if (e.name === 'AbortError') return false;
  if (typeof e.name === 'string' && RETRYABLE_NAMES.has(e.name)) return true;
  if (typeof e.code === 'string' && RETRYABLE_CODES.has(e.code)) return true;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && RETRYABLE_STATUS.has(status)) return true;
  return e.$retryable !== undefined && e.$retryable !== null;
}
