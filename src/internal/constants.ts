/** DynamoDB's limits, in one place. See `../shared/DYNAMODB-FACTS.md` for how each was measured. */

/** Put and delete requests in one BatchWriteItem call. */
export const BATCH_WRITE_MAX_REQUESTS = 25;
/** Keys in one BatchGetItem call. */
export const BATCH_GET_MAX_KEYS = 100;
/** The largest item DynamoDB stores, by its own size rules: 409,600 B is accepted, 409,601 B rejected. */
export const MAX_ITEM_BYTES = 400 * 1024;
/** The largest request body (JSON on the wire) DynamoDB takes: 16 MiB exactly; one byte more is an HTTP 413. */
export const MAX_REQUEST_BYTES = 16 * 1024 * 1024;
/** Bytes kept free under {@link MAX_REQUEST_BYTES} for the request's own envelope (`RequestItems`, flags). */
export const REQUEST_ENVELOPE_BYTES = 1024;
/** Capacity units: one write unit per started KB written, one strongly consistent read unit per started 4 KB. */
export const WRITE_UNIT_BYTES = 1024;
export const READ_UNIT_BYTES = 4096;
/** Actions in one TransactWriteItems or TransactGetItems call. */
export const TRANSACT_MAX_ACTIONS = 100;
/** DynamoDB's transaction payload limit, 4 MiB: 4,194,304 B is accepted by DynamoDB Local, 4,194,305 B refused. */
export const TRANSACT_MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;
