/**
 * The RxJS shell of the DynamoDB Streams sources (`dynamoStreamBatches`, `dynamoStream`): it finds the table's
 * stream, lists its shards (DescribeStream, again every `discoveryIntervalMs` and whenever a shard ends), reads each
 * shard that may be read (`ShardBook` decides: a child after its parent) with GetShardIterator / GetRecords, and
 * hands on one batch per GetRecords answer that has records, with the checkpoint after it. An open shard with
 * nothing new is polled again after `idleDelayMs`, doubling up to `maxIdleDelayMs` while it stays idle. Throttled and transient calls are retried with the backoff; an
 * expired iterator is asked for again from the last record handed on. Unsubscribing aborts the calls and timers.
 */
import { createRequire } from 'node:module';
import type { unmarshallOptions } from '@aws-sdk/util-dynamodb';
import { asyncScheduler, concatMap, defer, type Observable, of, type SchedulerLike, type Subscriber, type Subscription } from 'rxjs';
import type { Backpressure } from '../backpressure.js';
import { type CapacityBudget, type CapacityOptions, toBudget } from '../capacity.js';
import { StreamError } from '../errors.js';
import { validateBackoff } from '../internal/backoff.js';
import { sendCommand, unmarshallOptionsOf } from '../internal/client.js';
import { retryWithBackoff } from '../internal/retryCall.js';
import { type ChangeBatch, toChangeRecord, type WireRecord } from '../internal/stream/records.js';
import {
  checkCheckpoint,
  type IteratorStart,
  type ShardListing,
  ShardBook,
  type StreamCheckpoint,
  type StreamStart,
} from '../internal/stream/shardBook.js';
import { type Unmarshal, unmarshallerFor } from '../internal/unmarshal.js';
import type { BackoffOptions, DynamoDBSender, Item } from '../types.js';

/** Options of the Streams sources. */
export interface StreamOptions {
  /**
   * Where to start when `checkpoint` does not say: `'TRIM_HORIZON'`, the oldest record the stream keeps (24 hours);
   * `'LATEST'`, changes made from now on. @default 'TRIM_HORIZON'
   */
  start?: StreamStart;
  /** A checkpoint saved from an earlier run (a batch's `checkpoint`): go on after the last record it covers. */
  checkpoint?: StreamCheckpoint;
  /** Records per GetRecords call, 1–1000. @default 1000 */
  limit?: number;
  /**
   * How long to wait before polling an open shard again after it answered with no records; the wait doubles with
   * each empty answer in a row, up to `maxIdleDelayMs`, and is back to this after records. @default 250
   */
  idleDelayMs?: number;
  /** The longest wait between polls of an idle shard. @default 2000 */
  maxIdleDelayMs?: number;
  /** How often to list the stream's shards to find new ones (also done whenever a shard ends). @default 10000 */
  discoveryIntervalMs?: number;
  /** Calls per request while they fail with throttling or transient errors. @default 10 */
  maxAttempts?: number;
  /** Backoff between them. @default { baseDelayMs: 100, maxDelayMs: 20000, jitter: 'full' } */
  backoff?: BackoffOptions;
  /** Every delay goes through it. @default asyncScheduler */
  scheduler?: SchedulerLike;
  /** Jitter source. @default Math.random */
  random?: () => number;
  /** Ask for more records only while the link is under its high-water mark (each record counts one). @default none */
  backpressure?: Backpressure;
  /**
   * A budget in records per second (a `capacity()` handle, or its options): each shard's records are paid for
   * before that shard is polled again. Streams reads cost no table capacity; this paces what you do with them.
   * @default none
   */
  capacity?: CapacityBudget | CapacityOptions;
  /** How images and keys are unmarshalled. @default the client's if it has some, else exact (as the other sources) */
  unmarshallOptions?: unmarshallOptions;
  /**
   * Told when records were lost to the stream's 24-hour trimming (a checkpoint older than that, or a reader that
   * fell that far behind): reading goes on from the oldest record kept. @default a process warning, code RXJS_DYNAMODB_STREAM_TRIMMED
   */
  onTrimmed?: (message: string) => void;
}

/** The Streams API's commands, from `@aws-sdk/client-dynamodb-streams` (an optional peer), loaded when first needed. */
interface StreamsCommands {
  ListStreamsCommand: new (input: object) => object;
  DescribeStreamCommand: new (input: object) => object;
  GetShardIteratorCommand: new (input: object) => object;
  GetRecordsCommand: new (input: object) => object;
}
let commands: StreamsCommands | undefined;
function streamsCommands(): StreamsCommands {
  if (commands) return commands;
  try {
    commands = createRequire(import.meta.url)('@aws-sdk/client-dynamodb-streams') as StreamsCommands;
  } catch (error) {
    throw new Error('The Streams sources need @aws-sdk/client-dynamodb-streams: npm install @aws-sdk/client-dynamodb-streams', {
      cause: error,
    });
  }
  return commands;
}

export function validateStreamOptions(options: StreamOptions): void {
  const { start = 'TRIM_HORIZON', limit = 1000, idleDelayMs = 250, discoveryIntervalMs = 10_000, maxAttempts = 10 } = options;
  const { maxIdleDelayMs = Math.max(2000, idleDelayMs) } = options;
  if (start !== 'TRIM_HORIZON' && start !== 'LATEST')
    throw new RangeError(`start must be 'TRIM_HORIZON' or 'LATEST', got ${String(start)}`);
  if (!(Number.isInteger(limit) && limit >= 1 && limit <= 1000))
    throw new RangeError(`limit must be an integer from 1 to 1000, got ${limit}`);
  if (!(Number.isFinite(idleDelayMs) && idleDelayMs >= 0)) throw new RangeError(`idleDelayMs must be a number >= 0, got ${idleDelayMs}`);
  if (!(Number.isFinite(maxIdleDelayMs) && maxIdleDelayMs >= idleDelayMs))
    throw new RangeError(`maxIdleDelayMs must be a number >= idleDelayMs (${idleDelayMs}), got ${maxIdleDelayMs}`);
  const budget = options.capacity as CapacityOptions | undefined;
  if (budget && typeof budget === 'object' && 'fractionOfProvisioned' in budget && budget.fractionOfProvisioned !== undefined)
    throw new RangeError(
      'capacity of a Streams source counts records per second: give unitsPerSecond (a stream has no provisioned capacity for fractionOfProvisioned)',
    );
  if (!(Number.isFinite(discoveryIntervalMs) && discoveryIntervalMs > 0))
    throw new RangeError(`discoveryIntervalMs must be a number > 0, got ${discoveryIntervalMs}`);
  if (!(Number.isInteger(maxAttempts) && maxAttempts >= 1)) throw new RangeError(`maxAttempts must be an integer >= 1, got ${maxAttempts}`);
  validateBackoff(options.backoff);
  if (options.checkpoint !== undefined) checkCheckpoint(options.checkpoint);
}

/** Empty answers in a row after which an open shard counts as idle: until then it is polled again at once. */
const EMPTY_ANSWERS_BEFORE_IDLE = 3;

const errorName = (error: unknown) => (error as { name?: string } | null)?.name;

/** The batches of one subscription. */
export class StreamRun<T extends object = Item> {
  private readonly controller = new AbortController();
  private readonly work = new Set<Subscription>();
  private readonly scheduler: SchedulerLike;
  private readonly unmarshal: Unmarshal;
  private readonly budget: CapacityBudget | undefined;
  private book: ShardBook | undefined;
  private streamArn: string | undefined;
  private discovering = false;
  private discoverAgain = false;
  private nextDiscovery: Subscription | undefined;
  /** Shards being read (an iterator asked for, a poll in flight or waiting). */
  private readonly reading = new Set<string>();
  private disabled = false;
  /** Shards being read whose last answer had no records: when it is all of them, the reader is caught up. */
  private readonly idle = new Set<string>();
  private caughtUp = false;
  /** Empty answers in a row, by shard: the idle wait doubles with each. */
  private readonly emptyPolls = new Map<string, number>();
  /** Shards restarted from where a LATEST reading began: records older than this (ms) are skipped. */
  private readonly notBefore = new Map<string, number>();

  constructor(
    private readonly subscriber: Subscriber<ChangeBatch<T>>,
    private readonly client: DynamoDBSender,
    private readonly source: string,
    private readonly options: StreamOptions,
  ) {
    this.scheduler = options.scheduler ?? asyncScheduler;
    this.unmarshal = unmarshallerFor(options.unmarshallOptions ?? unmarshallOptionsOf(client));
    this.budget = toBudget(options.capacity);
  }

  start(): () => void {
    if (this.source.startsWith('arn:')) this.found(this.source);
    else {
      const { ListStreamsCommand } = streamsCommands();
      this.call(
        new ListStreamsCommand({ TableName: this.source }),
        (output: { Streams?: Array<{ StreamArn?: string; StreamLabel?: string }> }) => {
          // a table whose stream was disabled and enabled again has several: the newest is the one that takes changes
          const newest = [...(output.Streams ?? [])].sort((a, b) => (a.StreamLabel ?? '').localeCompare(b.StreamLabel ?? '')).at(-1);
          if (!newest?.StreamArn)
            return this.fail(
              'stream.notEnabled',
              `Table ${this.source} has no stream (or no such table). Turn one on: UpdateTable with StreamSpecification { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' } (aws dynamodb update-table --table-name ${this.source} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES)`,
            );
          this.found(newest.StreamArn);
        },
      );
    }
    return () => {
      this.controller.abort();
      for (const w of this.work) w.unsubscribe();
      this.work.clear();
      this.nextDiscovery?.unsubscribe();
    };
  }

  private found(streamArn: string): void {
    this.streamArn = streamArn;
    try {
      this.book = new ShardBook(streamArn, this.options.start ?? 'TRIM_HORIZON', this.options.checkpoint);
    } catch (error) {
      return this.subscriber.error(error);
    }
    this.discover();
  }

  /** Lists every shard (all DescribeStream pages), then starts those that may be read. */
  private discover(): void {
    if (this.discovering) return void (this.discoverAgain = true);
    this.discovering = true;
    this.nextDiscovery?.unsubscribe();
    const shards: ShardListing[] = [];
    const page = (startShard?: string) => {
      const { DescribeStreamCommand } = streamsCommands();
      this.call(
        new DescribeStreamCommand({ StreamArn: this.streamArn, ...(startShard ? { ExclusiveStartShardId: startShard } : {}) }),
        (output: { StreamDescription?: DescribeOutput }) => {
          const d = output.StreamDescription ?? {};
          for (const s of d.Shards ?? [])
            if (s.ShardId)
              shards.push({
                shardId: s.ShardId,
                ...(s.ParentShardId ? { parentShardId: s.ParentShardId } : {}),
                ...(s.SequenceNumberRange?.EndingSequenceNumber
                  ? { endingSequenceNumber: s.SequenceNumberRange.EndingSequenceNumber }
                  : {}),
              });
          if (d.LastEvaluatedShardId) return page(d.LastEvaluatedShardId);
          this.disabled = d.StreamStatus === 'DISABLED' || d.StreamStatus === 'DISABLING';
          this.listed(shards);
        },
      );
    };
    page();
  }

  private listed(shards: ShardListing[]): void {
    this.discovering = false;
    const startable = this.book!.list(shards);
    for (const { shardId, sequenceNumber } of this.book!.lost)
      this.trimmed(
        `Shard ${shardId} of ${this.streamArn} was trimmed (older than 24 hours) before it was read to its end${sequenceNumber ? ` (the checkpoint was at sequence number ${sequenceNumber})` : ''}: ${sequenceNumber ? 'its records after that' : 'its records'} are lost; reading goes on with its children.`,
      );
    for (const id of startable) this.startShard(id);
    // a shard that became idle while this listing was in flight found the reader busy: look again now
    const idle = [...this.idle].find((id) => this.reading.has(id));
    if (idle !== undefined) this.checkCaughtUp(idle);
    if (this.discoverAgain) {
      this.discoverAgain = false;
      return this.discover();
    }
    // a disabled stream whose shards are all read has nothing more to give
    if (this.disabled && this.reading.size === 0 && this.book!.startable().length === 0) return this.subscriber.complete();
    const { discoveryIntervalMs = 10_000 } = this.options;
    if (this.subscriber.closed) return; // unsubscribed meanwhile (a `take(n)` in a batch handed on just now)
    this.nextDiscovery = this.scheduler.schedule(() => this.discover(), discoveryIntervalMs);
  }

  private startShard(shardId: string): void {
    this.reading.add(shardId);
    this.iterator(shardId, this.book!.begin(shardId, this.scheduler.now()));
  }

  /** Asks for an iterator of `shardId` at `at`, then polls it. */
  private iterator(shardId: string, at: IteratorStart): void {
    const { GetShardIteratorCommand } = streamsCommands();
    if (at.type === 'TRIM_HORIZON' && at.notBefore !== undefined) this.notBefore.set(shardId, at.notBefore);
    this.call(
      new GetShardIteratorCommand({
        StreamArn: this.streamArn,
        ShardId: shardId,
        ShardIteratorType: at.type,
        ...(at.type === 'AFTER_SEQUENCE_NUMBER' ? { SequenceNumber: at.sequenceNumber } : {}),
      }),
      (output: { ShardIterator?: string }) =>
        output.ShardIterator ? this.poll(shardId, output.ShardIterator, 0) : this.ended(shardId, []),
      (error) => this.shardError(shardId, error, at),
    );
  }

  /** Waits for the link and the budget, then reads the next records of `shardId`. */
  private poll(shardId: string, iterator: string, owed: number): void {
    const { backpressure: link, limit = 1000, idleDelayMs = 250 } = this.options;
    const { maxIdleDelayMs = Math.max(2000, idleDelayMs) } = this.options;
    const { GetRecordsCommand } = streamsCommands();
    const turn = (link ? link.ready() : of(undefined)).pipe(
      concatMap(() =>
        this.budget && owed > 0
          ? this.budget.spend(owed, { client: this.client, table: this.source, kind: 'read', scheduler: this.scheduler })
          : of(undefined),
      ),
    );
    this.track(turn, () =>
      this.call(
        new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }),
        (output: { Records?: WireRecord[]; NextShardIterator?: string }) => {
          const wire = output.Records ?? [];
          let all;
          try {
            all = wire.map((r) => toChangeRecord<T>(r, shardId, this.unmarshal));
          } catch (error) {
            const at = wire.map((r) => r.dynamodb?.SequenceNumber).join(', ');
            return this.fail(
              'stream.unreadableRecord',
              `A record of shard ${shardId} (sequence numbers ${at}) could not be unmarshalled: ${(error as Error).message}`,
              error,
            );
          }
          const records = this.since(shardId, all);
          const last = all.at(-1);
          if (last) this.book!.advance(shardId, last.sequenceNumber);
          if (!output.NextShardIterator) return this.ended(shardId, records);
          if (records.length > 0) this.emit(shardId, records, false);
          const next = output.NextShardIterator;
          if (all.length > 0) {
            this.emptyPolls.delete(shardId);
            return this.poll(shardId, next, records.length);
          }
          // an empty answer is not yet idleness: a shard may hold stretches with no records, which the next calls
          // pass (AWS: "it might take multiple calls"), and a closed shard is read on to its end at once
          const empty = (this.emptyPolls.get(shardId) ?? 0) + 1;
          this.emptyPolls.set(shardId, empty);
          if (this.book!.isClosed(shardId) || empty < EMPTY_ANSWERS_BEFORE_IDLE) return this.poll(shardId, next, 0);
          this.idle.add(shardId);
          this.checkCaughtUp(shardId);
          const wait = idleDelayMs * 2 ** (empty - EMPTY_ANSWERS_BEFORE_IDLE);
          this.later(Math.min(maxIdleDelayMs, wait), () => this.poll(shardId, next, 0));
        },
        (error) => this.shardError(shardId, error, this.book!.resumeAt(shardId)),
      ),
    );
  }

  /** Records of `shardId` not older than where its reading from LATEST began (after a restart; see `ShardPosition.since`). */
  private since(shardId: string, records: ChangeBatch<T>['records']): ChangeBatch<T>['records'] {
    const cut = this.notBefore.get(shardId);
    if (cut === undefined) return records;
    const kept = records.filter((r) => !r.approximateCreationTime || r.approximateCreationTime.getTime() >= cut);
    if (kept.length > 0) this.notBefore.delete(shardId); // records come in order: the rest are newer
    return kept;
  }

  private trimmed(message: string): void {
    (this.options.onTrimmed ?? ((m: string) => process.emitWarning(m, { code: 'RXJS_DYNAMODB_STREAM_TRIMMED' })))(message);
  }

  /** The shard was read to its end: say so (with its last records), and look for its children. */
  private ended(shardId: string, records: ChangeBatch<T>['records']): void {
    this.book!.finish(shardId);
    this.reading.delete(shardId);
    this.emit(shardId, records, true);
    this.discover();
  }

  /** Says once, with an empty batch, that every shard being read answered with nothing new. */
  private checkCaughtUp(shardId: string): void {
    if (this.caughtUp || this.discovering || this.book!.startable().length > 0) return;
    for (const id of this.reading) if (!this.idle.has(id)) return;
    this.caughtUp = true;
    this.subscriber.next({ shardId, records: [], shardEnded: false, caughtUp: true, checkpoint: this.book!.checkpoint() });
  }

  private emit(shardId: string, records: ChangeBatch<T>['records'], shardEnded: boolean): void {
    if (records.length > 0) {
      this.idle.delete(shardId);
      this.caughtUp = false;
    }
    if (shardEnded) this.idle.delete(shardId);
    this.subscriber.next({ shardId, records, shardEnded, caughtUp: false, checkpoint: this.book!.checkpoint() });
    if (records.length > 0) this.options.backpressure?.emitted(records.length);
  }

  /** A shard call failed with an error that is not retried: some are the shard's own news, not the stream's end. */
  private shardError(shardId: string, error: unknown, at: IteratorStart): boolean {
    switch (errorName(error)) {
      case 'ExpiredIteratorException':
        // iterators live 15 minutes: ask again, after the last record handed on
        this.iterator(shardId, at);
        return true;
      case 'TrimmedDataAccessException': {
        const message = `Records of shard ${shardId} of ${this.streamArn} were trimmed (older than 24 hours) before they were read${at.type === 'AFTER_SEQUENCE_NUMBER' ? ` (after sequence number ${at.sequenceNumber})` : ''}: reading goes on from the oldest record kept.`;
        this.trimmed(message);
        this.iterator(shardId, { type: 'TRIM_HORIZON' });
        return true;
      }
      case 'ResourceNotFoundException':
        // the shard is gone (trimmed as a whole): nothing more can be read from it
        this.ended(shardId, []);
        return true;
      default:
        return false;
    }
  }

  /** Sends `command` (retrying throttled and transient failures), then `then`; `otherwise` may handle an error. */
  private call<O>(command: object, then: (output: O) => void, otherwise?: (error: unknown) => boolean): void {
    // nothing is sent after unsubscribing, also when it happened within `next` (`take(n)`), after the teardown ran
    if (this.subscriber.closed) return;
    const { maxAttempts, backoff, random } = this.options;
    const call = defer(() => sendCommand<O>(this.client, command, this.controller.signal)).pipe(
      retryWithBackoff({ maxAttempts, backoff, scheduler: this.scheduler, random }),
    );
    let output: { value: O } | undefined;
    let subscription: Subscription | undefined = undefined;
    const end = () => subscription && this.work.delete(subscription);
    subscription = call.subscribe({
      next: (value) => (output = { value }),
      error: (error: unknown) => {
        end();
        if (otherwise?.(error)) return;
        const e = error as { name?: string; message?: string };
        const name = (command as { constructor: { name: string } }).constructor.name.replace(/Command$/, '');
        this.fail('stream.callFailed', `${name} on ${this.streamArn ?? this.source} failed with ${e?.name}: ${e?.message}`, error);
      },
      complete: () => {
        end();
        if (output) then(output.value);
      },
    });
    if (!subscription.closed) this.work.add(subscription);
  }

  /** Runs `then` when `wait` emits (or completes), unless unsubscribed meanwhile. */
  private track(wait: Observable<unknown>, then: () => void): void {
    if (this.subscriber.closed) return;
    let subscription: Subscription | undefined = undefined;
    let done = false;
    subscription = wait.subscribe({
      next: () => {
        if (done) return;
        done = true;
        if (subscription) {
          this.work.delete(subscription);
          subscription.unsubscribe();
        }
        then();
      },
      error: (error: unknown) => this.subscriber.error(error),
    });
    if (done) subscription.unsubscribe();
    else this.work.add(subscription);
  }

  private later(delayMs: number, then: () => void): void {
    if (this.subscriber.closed) return;
    const timer: Subscription = this.scheduler.schedule(() => {
      this.work.delete(timer);
      then();
    }, delayMs);
    this.work.add(timer);
  }

  private fail(code: 'stream.notEnabled' | 'stream.callFailed' | 'stream.unreadableRecord', message: string, cause?: unknown): void {
    const checkpoint = this.book?.checkpoint();
    const where = checkpoint
      ? ' Go on from the checkpoint of the last batch you handled (error.checkpoint is the one after the last batch emitted).'
      : '';
    this.subscriber.error(new StreamError(code, `${message}.${where}`, checkpoint, cause));
  }
}

interface DescribeOutput {
  Shards?: Array<{ ShardId?: string; ParentShardId?: string; SequenceNumberRange?: { EndingSequenceNumber?: string } }>;
  LastEvaluatedShardId?: string;
  StreamStatus?: string;
}
