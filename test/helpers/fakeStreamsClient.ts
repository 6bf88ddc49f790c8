import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { Observable } from 'rxjs';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Cold = (marble: string, values?: any, error?: any) => Observable<unknown>;

/** A record as the Streams API gives it (SDK-shaped). */
export interface FakeWireRecord {
  eventName: 'INSERT' | 'MODIFY' | 'REMOVE';
  dynamodb: {
    Keys: Record<string, AttributeValue>;
    NewImage?: Record<string, AttributeValue>;
    OldImage?: Record<string, AttributeValue>;
    SequenceNumber: string;
    ApproximateCreationDateTime?: Date;
  };
}

/** One shard of the fake stream: what each GetRecords call of it answers, in order. */
export interface FakeShard {
  shardId: string;
  parentShardId?: string;
  /** One GetRecords answer each. An open shard answers `[]` (with a next iterator) once they are used up. */
  pages: FakeWireRecord[][];
  /** Closed: listed with an `EndingSequenceNumber`, and its last page (or, with none, its first call) has no `NextShardIterator`. */
  closed?: boolean;
  /** The page a `LATEST` iterator starts at. @default pages.length (after every record) */
  latestPage?: number;
  /** The page a `TRIM_HORIZON` iterator starts at (the pages before were trimmed); may be changed while it runs. @default 0 */
  trimHorizonPage?: number;
}

/** A call the fake was sent. */
export interface StreamsCall {
  /** Virtual time of the call. */
  at: number;
  /** `ListStreams`, `DescribeStream`, `GetShardIterator` or `GetRecords`. */
  name: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  input: Record<string, any>;
  /** Index among the calls of the same name. */
  n: number;
  signal?: AbortSignal;
}

export interface FakeStreamsOptions {
  streamArn?: string;
  /** What ListStreams answers. @default one stream, `streamArn` */
  streams?: Array<{ StreamArn: string; StreamLabel: string }>;
  /** The shard ids the n-th DescribeStream lists. @default every shard */
  listing?: (n: number) => string[];
  /** The stream's status in the n-th DescribeStream. @default 'ENABLED' */
  status?: (n: number) => 'ENABLED' | 'ENABLING' | 'DISABLED' | 'DISABLING';
  /** Shards per DescribeStream page (the rest after `LastEvaluatedShardId`). @default all on one page */
  describePageSize?: number;
  /** The timing of every answer. @default '-(r|)': one frame after the call */
  marble?: string;
  /** Makes a call fail (`cold(marble ?? '-#', {}, error)`) or changes its timing. */
  answer?: (call: StreamsCall) => { error?: unknown; marble?: string } | undefined;
  /** Calls after which the fake never answers again, so that a runaway loop shows in `calls` instead of hanging. @default 200 */
  maxCalls?: number;
}

export const STREAM_ARN = 'arn:aws:dynamodb:local:000000000000:table/Tickets/stream/2024-01-01T00:00:00.000';

/**
 * A DynamoDB Streams client whose `send` answers from scripted shards with cold Observables on the TestScheduler.
 * Iterators are `shardId/page/offset`: `TRIM_HORIZON` is page 0, `LATEST` is `latestPage`, `AFTER_SEQUENCE_NUMBER`
 * is the record after it. Every call is recorded in `calls` with its virtual time.
 */
export function fakeStreamsClient(now: () => number, cold: Cold, shards: FakeShard[], options: FakeStreamsOptions = {}) {
  const { streamArn = STREAM_ARN } = options;
  const byId = new Map(shards.map((s) => [s.shardId, s]));
  const calls: StreamsCall[] = [];
  const counts = new Map<string, number>();
  const shard = (id: string) => {
    const s = byId.get(id);
    if (!s) throw new Error(`fake: no shard ${id}`);
    return s;
  };

  const outputs: Record<string, (input: StreamsCall['input'], n: number) => unknown> = {
    ListStreams: () => ({
      Streams: options.streams ?? [{ StreamArn: streamArn, StreamLabel: '2024-01-01T00:00:00.000', TableName: 'Tickets' }],
    }),
    DescribeStream: (input, n) => {
      const ids = options.listing?.(n) ?? shards.map((s) => s.shardId);
      const from = input.ExclusiveStartShardId ? ids.indexOf(input.ExclusiveStartShardId) + 1 : 0;
      const size = options.describePageSize ?? ids.length;
      const page = ids.slice(from, from + size);
      const more = from + size < ids.length;
      return {
        StreamDescription: {
          StreamArn: input.StreamArn,
          StreamStatus: options.status?.(n) ?? 'ENABLED',
          Shards: page.map((id) => {
            const s = shard(id);
            const sequenceNumbers = s.pages.flat().map((r) => r.dynamodb.SequenceNumber);
            return {
              ShardId: id,
              ...(s.parentShardId ? { ParentShardId: s.parentShardId } : {}),
              SequenceNumberRange: {
                StartingSequenceNumber: sequenceNumbers[0] ?? '1',
                ...(s.closed ? { EndingSequenceNumber: sequenceNumbers.at(-1) ?? '1' } : {}),
              },
            };
          }),
          ...(more ? { LastEvaluatedShardId: page.at(-1) } : {}),
        },
      };
    },
    GetShardIterator: (input) => {
      const s = shard(input.ShardId);
      switch (input.ShardIteratorType) {
        case 'TRIM_HORIZON':
          return { ShardIterator: `${s.shardId}/${s.trimHorizonPage ?? 0}/0` };
        case 'LATEST':
          return { ShardIterator: `${s.shardId}/${s.latestPage ?? s.pages.length}/0` };
        case 'AFTER_SEQUENCE_NUMBER': {
          for (const [p, records] of s.pages.entries()) {
            const i = records.findIndex((r) => r.dynamodb.SequenceNumber === input.SequenceNumber);
            if (i >= 0) return { ShardIterator: i + 1 < records.length ? `${s.shardId}/${p}/${i + 1}` : `${s.shardId}/${p + 1}/0` };
          }
          throw new Error(`fake: no record ${input.SequenceNumber} in shard ${s.shardId}`);
        }
        default:
          throw new Error(`fake: iterator type ${input.ShardIteratorType}`);
      }
    },
    GetRecords: (input) => {
      const [id, p, offset] = (input.ShardIterator as string).split('/') as [string, string, string];
      const s = shard(id);
      const page = Number(p);
      const rest = (s.pages[page] ?? []).slice(Number(offset));
      const records = rest.slice(0, input.Limit);
      if (records.length < rest.length) return { Records: records, NextShardIterator: `${id}/${page}/${Number(offset) + records.length}` };
      const last = page >= s.pages.length - 1;
      if (s.closed && last) return { Records: records };
      const next = page < s.pages.length ? `${id}/${page + 1}/0` : input.ShardIterator;
      return { Records: records, NextShardIterator: next };
    },
  };

  const client = {
    send(command: { constructor: { name: string }; input: Record<string, unknown> }, opts?: { abortSignal?: AbortSignal }) {
      const name = command.constructor.name.replace(/Command$/, '');
      const n = counts.get(name) ?? 0;
      counts.set(name, n + 1);
      const call: StreamsCall = { at: now(), name, input: command.input, n, signal: opts?.abortSignal };
      calls.push(call);
      if (calls.length > (options.maxCalls ?? 200)) return cold('-');
      const scripted = options.answer?.(call);
      if (scripted?.error) return cold(scripted.marble ?? '-#', {}, scripted.error);
      const output = outputs[name];
      if (!output) throw new Error(`fake: unexpected command ${command.constructor.name}`);
      return cold(scripted?.marble ?? options.marble ?? '-(r|)', { r: output(command.input, n) });
    },
  };
  /** The calls, as `at name detail` lines (detail: the shard and iterator type, or the iterator). */
  const log = () =>
    calls.map((c) => {
      const detail =
        c.name === 'GetShardIterator'
          ? ` ${c.input.ShardId} ${c.input.ShardIteratorType}${c.input.SequenceNumber ? ` ${c.input.SequenceNumber}` : ''}`
          : c.name === 'GetRecords'
            ? ` ${c.input.ShardIterator}`
            : '';
      return `${c.at} ${c.name}${detail}`;
    });
  return { client, calls, log };
}

/** An SDK-shaped INSERT record of item `{ pk, n }`. */
export const insert = (pk: string, n: string, sequenceNumber: string): FakeWireRecord => ({
  eventName: 'INSERT',
  dynamodb: {
    Keys: { pk: { S: pk } },
    NewImage: { pk: { S: pk }, n: { N: n } },
    SequenceNumber: sequenceNumber,
    ApproximateCreationDateTime: new Date('2024-01-01T00:00:00Z'),
  },
});

/** An SDK-shaped MODIFY record of item `{ pk, n }`, from `before` to `after`. */
export const modify = (pk: string, before: string, after: string, sequenceNumber: string): FakeWireRecord => ({
  eventName: 'MODIFY',
  dynamodb: {
    Keys: { pk: { S: pk } },
    OldImage: { pk: { S: pk }, n: { N: before } },
    NewImage: { pk: { S: pk }, n: { N: after } },
    SequenceNumber: sequenceNumber,
    ApproximateCreationDateTime: new Date('2024-01-01T00:00:01Z'),
  },
});

/** An SDK-shaped REMOVE record of item `{ pk, n }`. */
export const remove = (pk: string, n: string, sequenceNumber: string): FakeWireRecord => ({
  eventName: 'REMOVE',
  dynamodb: {
    Keys: { pk: { S: pk } },
    OldImage: { pk: { S: pk }, n: { N: n } },
    SequenceNumber: sequenceNumber,
    ApproximateCreationDateTime: new Date('2024-01-01T00:00:02Z'),
  },
});

/** An error as the SDK throws it: its `name`, a 400, no `$retryable` unless given. */
export const awsError = (name: string, extra: object = {}) =>
  Object.assign(new Error(`${name} (fake)`), { name, $fault: 'client', $metadata: { httpStatusCode: 400 }, ...extra });
