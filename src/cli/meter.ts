/**
 * What a command's client did, measured on the client itself (two SDK middlewares): the Scan and Query calls and the
 * read units DynamoDB reported for them, and the endpoint the requests went to. The write operators count their own
 * BatchWriteItem calls (`Progress`); the reads have no operator to count them, so the `--json` summaries take them
 * from here.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';

const READS = new Set(['ScanCommand', 'QueryCommand']);

/** What a Scan input adds so that DynamoDB reports what each page cost (the meter sums it). */
export const READ_UNITS = { ReturnConsumedCapacity: 'TOTAL' } as const;

/** The calls a command's client made; see {@link CallMeter.attach}. */
export class CallMeter {
  /** Scan and Query calls sent (each `send`, answered or not; the SDK's own retries inside one are not counted). */
  readCalls = 0;
  /** The capacity units those calls consumed, as DynamoDB reported them (`ReturnConsumedCapacity: 'TOTAL'`). */
  readUnits = 0;
  /** Where the last request went: `https://dynamodb.eu-west-1.amazonaws.com`, `http://127.0.0.1:8000`. */
  endpoint: string | undefined;

  /** Counts the calls of this client from now on. */
  attach(client: DynamoDBClient): this {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const read = READS.has(context.commandName ?? '');
        if (read) this.readCalls++;
        const result = await next(args);
        if (read)
          this.readUnits += (result.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity?.CapacityUnits ?? 0;
        return result;
      },
      { step: 'initialize', name: 'rxjsDynamodbCliCallMeter' },
    );
    client.middlewareStack.add(
      (next) => async (args) => {
        const request = args.request as { protocol?: string; hostname?: string; port?: number };
        const host = request.hostname?.includes(':') && !request.hostname.startsWith('[') ? `[${request.hostname}]` : request.hostname;
        if (host) this.endpoint = `${request.protocol ?? 'https:'}//${host}${request.port ? `:${request.port}` : ''}`;
        return next(args);
      },
      { step: 'finalizeRequest', name: 'rxjsDynamodbCliEndpointMeter' },
    );
    return this;
  }
}
