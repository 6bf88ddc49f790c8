import { describe, expect, it } from 'vitest';
import { isRetryableError } from '../../src/index.js';

const error = (name: string, extra: object = {}) => Object.assign(new Error('any message'), { name, ...extra });

describe('isRetryableError', () => {
  it('should retry throttling and transient errors, by name, status or socket code', () => {
    for (const name of [
      'ProvisionedThroughputExceededException',
      'ThrottlingException',
      'RequestLimitExceeded',
      'InternalServerError',
      'TimeoutError',
    ])
      expect(isRetryableError(error(name)), name).toBe(true);
    for (const status of [500, 502, 503, 504])
      expect(isRetryableError(error('Unknown', { $metadata: { httpStatusCode: status } })), `${status}`).toBe(true);
    expect(isRetryableError(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }))).toBe(true);
  });

  it('should not retry validation, missing tables, access errors, 413 or aborts', () => {
    for (const name of [
      'ValidationException',
      'ResourceNotFoundException',
      'AccessDeniedException',
      'UnrecognizedClientException',
      'AbortError',
    ])
      expect(isRetryableError(error(name, { $metadata: { httpStatusCode: 400 } })), name).toBe(false);
    expect(isRetryableError(error('Unknown', { $metadata: { httpStatusCode: 413 } }))).toBe(false);
    expect(isRetryableError(error('ValidationException', { message: 'Throughput exceeded' }))).toBe(false); // never by message
    expect(isRetryableError('ProvisionedThroughputExceededException')).toBe(false);
  });
});
