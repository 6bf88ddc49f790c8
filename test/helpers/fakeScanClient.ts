import type { ScanCommandInput } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import type { Observable } from 'rxjs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Cold = (marble: string, values?: any, error?: any) => Observable<unknown>;

/**
 * A client whose `send` answers Scan from `pages` (arrays of plain items) with cold Observables on the TestScheduler:
 * the page after `ExclusiveStartKey` (`{ page: n }`), with `LastEvaluatedKey` unless it is the last. `answer(i)` can
 * make call i throw or change its timing. Other commands (BatchWriteItem) answer `{ UnprocessedItems: {} }` after
 * `writeMarble`.
 */
export function fakeScanClient(
  now: () => number,
  cold: Cold,
  pages: Record<string, unknown>[][],
  options: { marble?: string; writeMarble?: string; answer?: (call: number) => { error?: unknown; marble?: string } | undefined } = {},
) {
  const scans: Array<{ at: number; page: number; input: ScanCommandInput; signal?: AbortSignal }> = [];
  const writes: Array<{ at: number; count: number }> = [];
  const client = {
    send(command: { constructor: { name: string }; input: Record<string, unknown> }, opts?: { abortSignal?: AbortSignal }) {
      if (command.constructor.name === 'BatchWriteItemCommand') {
        const items = Object.values(command.input.RequestItems as Record<string, unknown[]>).flat();
        writes.push({ at: now(), count: items.length });
        return cold(options.writeMarble ?? '-r|', { r: { UnprocessedItems: {} } });
      }
      if (command.constructor.name === 'BatchGetItemCommand') {
        const keys = Object.values(command.input.RequestItems as Record<string, { Keys: unknown[] }>).flatMap((r) => r.Keys);
        writes.push({ at: now(), count: keys.length });
        return cold(options.writeMarble ?? '-r|', { r: { Responses: {}, UnprocessedKeys: {} } });
      }
      const input = command.input as unknown as ScanCommandInput;
      const page = input.ExclusiveStartKey ? (unmarshall(input.ExclusiveStartKey).page as number) : 0;
      scans.push({ at: now(), page, input, signal: opts?.abortSignal });
      const scripted = options.answer?.(scans.length - 1);
      if (scripted?.error) return cold(scripted.marble ?? '-#', {}, scripted.error);
      const last = page === pages.length - 1;
      const output = {
        Items: (pages[page] ?? []).map((item) => marshall(item)),
        Count: pages[page]?.length ?? 0,
        ScannedCount: pages[page]?.length ?? 0,
        ...(last ? {} : { LastEvaluatedKey: marshall({ page: page + 1 }) }),
      };
      return cold(scripted?.marble ?? options.marble ?? '--r|', { r: output });
    },
  };
  return { client, scans, writes };
}
