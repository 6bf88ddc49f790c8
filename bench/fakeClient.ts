/**
 * Scenario (b)'s in-process client: every `send` waits `latencyMs` on a real `setTimeout`, then answers a
 * BatchWriteItem with `{ UnprocessedItems: {} }` (no throttling). It also answers DescribeTable (after the same wait)
 * with a `pk` string key, so the operator runs with its default options, as it does against DynamoDB Local.
 */
import { BatchWriteItemCommand, type BatchWriteItemCommandOutput, DescribeTableCommand } from '@aws-sdk/client-dynamodb';

export interface FakeClient {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<BatchWriteItemCommandOutput>;
  /** BatchWriteItem calls answered. */
  readonly calls: number;
  /** Put and delete requests received over all BatchWriteItem calls. */
  readonly requests: number;
}

export function fakeClient(latencyMs = 5): FakeClient {
  let calls = 0;
  let requests = 0;
  const metadata = { httpStatusCode: 200, attempts: 1, totalRetryDelay: 0 };
  return {
    async send(command) {
      await new Promise<void>((resolve) => setTimeout(resolve, latencyMs));
      if (command instanceof DescribeTableCommand) {
        const Table = {
          TableName: command.input.TableName,
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' as const }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' as const }],
        };
        return { Table, $metadata: metadata } as unknown as BatchWriteItemCommandOutput;
      }
      if (!(command instanceof BatchWriteItemCommand))
        throw new Error(`fake client: unexpected command ${(command as object)?.constructor?.name}`);
      calls += 1;
      for (const list of Object.values(command.input.RequestItems ?? {})) requests += list.length;
      return { UnprocessedItems: {}, $metadata: metadata };
    },
    get calls() {
      return calls;
    },
    get requests() {
      return requests;
    },
  };
}
