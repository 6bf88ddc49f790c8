/**
 * `rxjs-dynamodb migrate --from A --to B [--transform module] [--segments N]`: a table copy that the source keeps
 * taking writes through. It notes where A's stream stands (its ARN and the time), copies A into B with a parallel
 * scan (`copy`'s engine, its checkpoint and dead letters), then replays A's stream from there: every change made
 * since the copy began is applied to B in the stream's order — a put of the new image, a delete of the old key — so
 * B converges to A. It keeps following the stream (printing the lag) until Ctrl-C; `--until-caught-up` ends once
 * every shard answered with nothing new. `--resume FILE` goes on from the checkpoint of either phase.
 *
 * With `--redis URL` (issue 14) the copy runs on the workers instead (`rxjs-dynamodb worker`): after noting the
 * stream, migrate submits a `copy` job of `--segments` units (default 32) as `submit copy` does, keeps its id in the
 * checkpoint, and waits until every unit is done (printing progress), then replays the stream itself. A unit that
 * fails for good stops the migration (exit 1, or 3 when no item failed but the unit could not run) before any
 * replay; `--resume` waits on the job its checkpoint names. Only the flag switches this on: `REDIS_URL` is not read.
 * The copy's dead letters are then the units' (in Redis: `rxjs-dynamodb status <job>` lists them); `--dead-letter`
 * takes the replay's.
 *
 * Why order suffices: every replayed write is a whole item or a delete, applied after the copy of that key and in
 * the order the changes were made (the stream's order per key, a child shard after its parent), so the last write
 * for each key is its last change. A change older than the copy's start is skipped (its effect was copied); one
 * replayed twice after a resume is followed by the same later ones again, and ends the same.
 */
import type { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import type { Redis } from 'ioredis';
import { concatMap, defer, from, lastValueFrom, map, type Observable, toArray, takeWhile } from 'rxjs';
import {
  backpressure,
  type ChangeBatch,
  dynamoBatchWrite,
  dynamoBatchWriteRequests,
  dynamoStreamBatches,
  type StreamCheckpoint,
  type WriteRequest,
} from '../index.js';
import { loadTransform } from './copyCommand.js';
import { describeError } from './deadLetter.js';
import { Job, type Outcome } from './job.js';
import { READ_UNITS } from './meter.js';
import type { CommonOptions, ScanOptions, WriteOptions } from './options.js';
import { replayWrites } from './replay.js';
import { openScanCheckpoint, type ScanCheckpoint, scanInput } from './scanJob.js';
import { batchSink, scanWrite } from './scanWrite.js';
import { CliError, EXIT, runToEnd, type Session, withSession } from './session.js';
import { describeTable, tableKey, targetKey } from './table.js';
import { announceTarget } from './target.js';
import { copyOnQueue, type CopyPlan, copyPlan, DEFAULT_UNITS } from './migrateQueue.js';

export interface MigrateOptions extends CommonOptions, ScanOptions, WriteOptions {
  from: string;
  to: string;
  transform?: string;
  createTable?: boolean;
  /** End once the replay has caught up with the stream (instead of following it until stopped). */
  untilCaughtUp?: boolean;
  /** The longest wait before polling a shard again while it has nothing new, in ms. @default 2000 */
  pollMs?: number;
  /**
   * The Redis of a BullMQ queue: the copy is submitted there as a job of `segments` units (@default 32) for the
   * workers, and waited on. Only this option switches it on (`REDIS_URL` is not read). @default none: copy here
   */
  redis?: string;
  /** The queue of the copy job. @default 'rxjs-dynamodb', or the checkpoint's */
  queue?: string;
}

/** The copy job of a migration on the queue, as its checkpoint keeps it (never the Redis URL: it may hold a password). */
export interface CopyJobRef {
  /** The job id, as `submit` prints it: `rxjs-dynamodb status <id>` shows it. */
  id: string;
  queue: string;
}

/** The checkpoint of a migration: the copy's (a scan checkpoint) and the replay's. */
export interface MigrateCheckpoint extends ScanCheckpoint {
  to: string;
  /** The stream the replay reads, noted before the copy began. */
  streamArn: string;
  /** When the copy began (ms since the epoch): changes made before it (less a margin) are not replayed. */
  startedAt: number;
  /** Where the replay got to. */
  stream?: StreamCheckpoint;
  /** Changes replayed so far (over every run). */
  replayed: number;
  /** With `--redis`: the copy job on the queue, noted before it was submitted. */
  copyJob?: CopyJobRef;
}

/** Changes made this long before the copy began are still replayed: clocks differ, and the stream rounds its times. */
const MARGIN_MS = 2 * 60_000;

/** A Streams client that goes where the session's client goes, with its region and credentials. */
async function streamsClientOf(session: Session): Promise<DynamoDBStreamsClient> {
  let streamsModule: typeof import('@aws-sdk/client-dynamodb-streams');
  try {
    streamsModule = await import('@aws-sdk/client-dynamodb-streams');
  } catch {
    throw new CliError('migrate reads DynamoDB Streams: npm install @aws-sdk/client-dynamodb-streams', EXIT.failed);
  }
  const { DynamoDBStreamsClient } = streamsModule;
  const config = session.client.config;
  const endpoint = config.endpoint ? await config.endpoint() : undefined;
  return new DynamoDBStreamsClient({
    region: await config.region(),
    credentials: config.credentials,
    requestHandler: config.requestHandler,
    ...(endpoint
      ? { endpoint: `${endpoint.protocol}//${endpoint.hostname}${endpoint.port ? `:${endpoint.port}` : ''}${endpoint.path}` }
      : {}),
  });
}

/** Runs `migrate`; resolves to the exit code. */
export async function migrateCommand(options: MigrateOptions): Promise<number> {
  const { from: source, to } = options;
  if (source === to) throw new CliError('--from and --to name the same table', EXIT.usage);
  if (options.filter !== undefined)
    throw new CliError('migrate copies every item (the replay could not honour a filter): use --transform to drop items', EXIT.usage);
  if (options.dryRun) throw new CliError('migrate has no --dry-run: try copy --dry-run for the copy it begins with', EXIT.usage);
  const transform = options.transform ? await loadTransform(options.transform) : undefined;
  const opened = openScanCheckpoint('migrate', source, options);
  const file = opened.file as unknown as import('./checkpoint.js').CheckpointFile<MigrateCheckpoint> | undefined;
  const state = opened.state as MigrateCheckpoint;
  if (state.to !== undefined && state.to !== to)
    throw new CliError(`checkpoint ${file!.path} is of a migration to ${state.to}, not ${to}; use another --resume file`, EXIT.usage);
  if (options.redis !== undefined && state.streamArn === undefined && options.segments === undefined) {
    // a new migration on the queue: as many units as `submit` makes
    state.totalSegments = DEFAULT_UNITS;
    state.segments = Array.from({ length: DEFAULT_UNITS }, () => ({ done: false }));
  }
  const plan = copyPlan(state, options, file?.path);
  // a bad URL is refused now (exit 2), before any table is read; the connection opens when the copy is submitted
  const redis = plan.mode === 'submit' || plan.mode === 'wait' ? (await import('./unitQueue.js')).connect(options.redis) : undefined;
  try {
    return await migrate(options, { state, file, plan, transform, redis });
  } finally {
    redis?.disconnect();
  }
}

/** The migration itself, in its session: the checks, the copy (here, or on the queue with `redis`), the replay. */
async function migrate(
  options: MigrateOptions,
  run: {
    state: MigrateCheckpoint;
    file: import('./checkpoint.js').CheckpointFile<MigrateCheckpoint> | undefined;
    plan: CopyPlan;
    transform: Parameters<typeof replayWrites>[3];
    redis: Redis | undefined;
  },
): Promise<number> {
  const { from: source, to } = options;
  const { state, file, plan, transform, redis } = run;
  return withSession(options, async (session) => {
    const { signal } = session;
    await announceTarget(session, options, `migrate table ${source} into table ${to}`, [to, source]);
    const description = await describeTable(session.client, source, signal);
    if (!description) throw new CliError(`table ${source} (--from) does not exist`, EXIT.failed);
    const view = description.StreamSpecification?.StreamEnabled ? description.StreamSpecification.StreamViewType : undefined;
    if (view !== 'NEW_AND_OLD_IMAGES' || !description.LatestStreamArn)
      throw new CliError(
        `migrate reads the changes of ${source} from its stream, which must be on with NEW_AND_OLD_IMAGES (it is ${view ? `on with ${view}` : 'off'}). ` +
          `Turn it on: aws dynamodb update-table --table-name ${source} --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES`,
        EXIT.failed,
      );
    const sourceKey = await tableKey(session.client, source, undefined, {
      signal,
      checkpoint: file as never,
      role: 'source',
      flag: '--from',
    });
    const key = await targetKey(session.client, to, {
      key: options.key,
      create: options.createTable,
      fallback: sourceKey,
      signal,
      checkpoint: file as never,
      flag: '--to',
    });
    if (state.streamArn === undefined) {
      // before anything is copied: what changes from now on is in the stream after this point
      Object.assign(state, { to, streamArn: description.LatestStreamArn, startedAt: Date.now(), replayed: 0 });
      file?.update(state);
      file?.flush();
    } else if (state.streamArn !== description.LatestStreamArn)
      throw new CliError(
        `the stream of ${source} changed since the checkpoint was made (it was ${state.streamArn}, it is ${description.LatestStreamArn}): changes made in between are lost to it; start over without --resume`,
        EXIT.failed,
      );
    const job = new Job('migrate', options, `migrate-${source}-to-${to}`, session.meter);
    const extra = () => ({
      from: source,
      to,
      totalSegments: state.totalSegments,
      read: job.tally.read,
      replayed: state.replayed,
      ...(state.copyJob ? { copyJob: state.copyJob.id } : {}),
    });
    // 1. the copy: on the queue, by the workers
    if (redis && (plan.mode === 'submit' || plan.mode === 'wait')) {
      const outcome = await copyOnQueue({ session, redis, state, file, options, key: key.names, job }, plan);
      if (outcome === 'interrupted')
        return job.finish(
          outcome,
          `items copied to ${to} (stopped waiting for the copy job ${state.copyJob?.id ?? '(not submitted)'}, whose units go on on the workers)`,
          extra(),
          file?.path,
        );
    }
    // 1. the copy, here
    else if (!state.complete) {
      process.stderr.write(`migrate: copying ${source} into ${to}\n`);
      job.report(sourceKey.itemCount, 'items');
      const spec = {
        session,
        job,
        input: scanInput(source, options, READ_UNITS),
        state,
        file: file as never,
        unitsPerSecond: options.capacity,
        transform,
      };
      try {
        const outcome = await scanWrite(
          spec,
          batchSink((link) => dynamoBatchWrite(session.client, to, job.writeOptions(key.names, link))),
        );
        if (outcome === 'interrupted') return job.finish(outcome, `items copied to ${to} (copy interrupted)`, extra(), file?.path);
      } finally {
        job.stop();
      }
    }
    // 2. the replay
    const streams = await streamsClientOf(session);
    try {
      const outcome = await replay(session, streams, state, options, key.names, transform, job, file);
      return job.finish(outcome, `items copied or changed in ${to}`, extra(), file?.path);
    } finally {
      streams.destroy();
    }
  });
}

/** Follows the stream, applying each batch's changes before the next, saving the checkpoint after each. */
async function replay(
  session: Session,
  streams: DynamoDBStreamsClient,
  state: MigrateCheckpoint,
  options: MigrateOptions,
  names: string[],
  transform: Parameters<typeof replayWrites>[3],
  job: Job,
  file: import('./checkpoint.js').CheckpointFile<MigrateCheckpoint> | undefined,
): Promise<'complete' | 'interrupted'> {
  const { to } = state;
  const since = state.startedAt - MARGIN_MS;
  let lastShown = 0;
  let lagMs = 0;
  const show = (force = false) => {
    if (options.json || (!force && Date.now() - lastShown < 5_000)) return;
    lastShown = Date.now();
    process.stderr.write(`migrate: ${state.replayed} changes replayed, lag ${(lagMs / 1000).toFixed(1)} s\n`);
  };
  const link = backpressure({ highWaterMark: 10_000 });
  /** Changes lost to the stream's 24-hour trimming: the target cannot converge any more. */
  const lost: string[] = [];
  const apply = (batch: ChangeBatch): Observable<ChangeBatch> =>
    defer(async () => {
      if (lost.length > 0)
        throw new Error(`${lost[0]} The target cannot catch up with what was lost: start the migration over (without --resume)`);
      const r = await replayWrites(batch.records, to, names, transform, since);
      for (const { record, error } of r.failed) {
        job.tally.failed++;
        job.deadLetter.write({
          error: describeError(error),
          item: { change: record.eventName, keys: record.keys, sequenceNumber: record.sequenceNumber },
        });
      }
      job.tally.skipped += r.older + r.dropped;
      const requests = [...r.writes.values()];
      if (requests.length > 0) {
        const results = await lastValueFrom(
          from(requests).pipe(
            // (the writes hold no link of their own: the batch is released as a whole once applied)
            dynamoBatchWriteRequests(session.client, { ...job.writeOptions(names, backpressure()), keyAttributes: { [to]: names } }),
            toArray(),
          ),
        );
        for (const result of results) {
          job.tally.written += result.requests.length - (result.failed?.length ?? 0);
          for (const failure of result.failures ?? []) {
            job.tally.failed++;
            const request = failure.request as WriteRequest;
            job.deadLetter.write({
              error: describeError(failure.error),
              item: 'put' in request ? request.put : { delete: request.delete },
            });
          }
        }
      }
      link.release(batch.records.length);
      state.replayed += batch.records.length;
      state.stream = batch.checkpoint;
      file?.update(state);
      const last = batch.records.at(-1)?.approximateCreationTime;
      lagMs = batch.caughtUp ? 0 : last ? Math.max(0, Date.now() - last.getTime()) : lagMs;
      job.update();
      show(batch.caughtUp);
      return batch;
    });
  const pipeline = dynamoStreamBatches(streams, state.streamArn, {
    ...(state.stream ? { checkpoint: state.stream } : {}),
    start: 'TRIM_HORIZON',
    // an idle shard is polled after 250 ms, then less often, up to --poll-ms
    idleDelayMs: Math.min(250, options.pollMs ?? 2000),
    maxIdleDelayMs: options.pollMs ?? 2000,
    backpressure: link,
    onTrimmed: (message) => lost.push(message),
  }).pipe(
    concatMap(apply),
    takeWhile((batch) => !(options.untilCaughtUp && batch.caughtUp), true),
    map(() => undefined),
  );
  process.stderr.write(
    `migrate: replaying the changes of ${state.table} since the copy began${options.untilCaughtUp ? ', until caught up' : ' (Ctrl-C to stop)'}\n`,
  );
  try {
    return await runToEnd(pipeline, session.signal);
  } catch (error) {
    throw new CliError(`migrate stopped: ${(error as Error).message}${file ? `; rerun with --resume ${file.path} to go on` : ''}`);
  } finally {
    file?.flush();
  }
}
