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
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
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
import type { summarize } from './statusCommand.js';
import type { JobRecord } from './unitQueue.js';
import type { JobSpec } from './units.js';

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

/** Units of a copy job on the queue unless `--segments` says (as `submit`). */
export const DEFAULT_UNITS = 32;
/** Runs of a copy unit that stops (each from its cursor) before it fails for good (as `submit`'s default). */
const UNIT_ATTEMPTS = 5;
/** How often the units' state is read while waiting, and how often it is printed, in ms. */
const WAIT_POLL_MS = 1_000;
const WAIT_SHOW_MS = 5_000;
/** unitQueue.ts's `DEFAULT_QUEUE`, not imported from there: that module loads ioredis, which migrate without --redis never needs. */
const DEFAULT_QUEUE_NAME = 'rxjs-dynamodb';

/** How this run's copy goes: already done, here, submitted to the queue now, or waited on (the checkpoint's job). */
export type CopyPlan = { mode: 'done' } | { mode: 'local' } | { mode: 'submit'; queue: string } | { mode: 'wait'; job: CopyJobRef };

/**
 * Decides how the copy goes from the checkpoint and the flags. A copy job the checkpoint names is waited on (it needs
 * `--redis`, and `--queue` if given must be its queue); a copy begun here is not moved onto the queue (its progress
 * would be lost to the units): both are refused with exit 2, naming the checkpoint `where`.
 *
 * @param state The checkpoint (new, or resumed).
 * @param options `--redis` and `--queue`.
 * @param where The checkpoint file, for the messages.
 * @returns What to do.
 */
export function copyPlan(state: MigrateCheckpoint, options: { redis?: string; queue?: string }, where = 'the checkpoint'): CopyPlan {
  if (state.complete) return { mode: 'done' };
  const job = state.copyJob;
  if (job) {
    if (!options.redis)
      throw new CliError(
        `checkpoint ${where}: the copy of this migration runs on the queue ${job.queue} as job ${job.id}; give --redis <url> to wait on it`,
        EXIT.usage,
      );
    if (options.queue !== undefined && options.queue !== job.queue)
      throw new CliError(
        `checkpoint ${where}: the copy job ${job.id} is on the queue ${job.queue}, not ${options.queue}; leave --queue out or pass --queue ${job.queue}`,
        EXIT.usage,
      );
    return { mode: 'wait', job };
  }
  if (!options.redis) {
    if (options.queue !== undefined)
      throw new CliError(`--queue ${options.queue} names the queue of a copy on the workers: give --redis <url> too`, EXIT.usage);
    return { mode: 'local' };
  }
  if (state.segments.some((s) => s.done || s.startKey))
    throw new CliError(
      `checkpoint ${where}: the copy began on this machine (without --redis); resume it without --redis, or start over without --resume`,
      EXIT.usage,
    );
  return { mode: 'submit', queue: options.queue ?? DEFAULT_QUEUE_NAME };
}

/** Where a copy job stands: go on waiting, go on to the replay, or stop with this exit code and why. */
export type CopyJobVerdict = { state: 'waiting' } | { state: 'done' } | { state: 'failed'; exitCode: number; why: string };

/**
 * A copy job's verdict from its units' totals (`summarize`): done when every unit is done with no item failed;
 * failed as soon as one unit failed for good — exit 1 when items were dead-lettered, 3 when none were (the unit could
 * not run: no table, no access, its attempts used up).
 */
export function copyJobVerdict(summary: ReturnType<typeof summarize>): CopyJobVerdict {
  const { failed, itemsFailed, done, units } = summary;
  const many = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  if (failed > 0 || (done === units && itemsFailed > 0))
    return itemsFailed > 0
      ? {
          state: 'failed',
          exitCode: EXIT.notAllWritten,
          why: `${many(failed, 'unit')} failed for good, ${many(itemsFailed, 'item')} not written`,
        }
      : { state: 'failed', exitCode: EXIT.failed, why: `${many(failed, 'unit')} failed for good (could not run)` };
  return done === units ? { state: 'done' } : { state: 'waiting' };
}

/** Resolves to `undefined` at once when `signal` aborts (the promise itself goes on, its result unused). */
function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T | undefined> {
  if (signal.aborted) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const onAbort = () => resolve(undefined);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** A Redis URL for messages: its password hidden. */
function shownUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}

/** What the copy on the queue runs with. */
interface QueueCopy {
  session: Session;
  redis: Redis;
  state: MigrateCheckpoint;
  file: import('./checkpoint.js').CheckpointFile<MigrateCheckpoint> | undefined;
  options: MigrateOptions;
  /** The target's key attribute names. */
  key: string[];
  job: Job;
}

/**
 * The copy as a job on the queue: submits it under an id noted in the checkpoint first (or, resuming, finds the job
 * the checkpoint names, and submits it under that id if Redis has it not), then waits until every unit is done,
 * printing the units' progress. Resolves `'complete'` with the checkpoint's copy marked done, or `'interrupted'` on
 * Ctrl-C (the units go on on the workers); a unit failed for good rejects with a `CliError` naming the job.
 */
async function copyOnQueue(run: QueueCopy, plan: Extract<CopyPlan, { mode: 'submit' | 'wait' }>): Promise<Outcome> {
  const { session, redis, state, file, options, job } = run;
  const { signal } = session;
  const [{ ready, jobKey, unitId }, { enqueueJob, newJobId }, { jobStatus }, { Queue }] = await Promise.all([
    import('./unitQueue.js'),
    import('./submitCommand.js'),
    import('./statusCommand.js'),
    import('bullmq'),
  ]);
  const url = shownUrl(options.redis!);
  const connected = await unlessAborted(ready(redis, url), signal);
  if (!connected) return 'interrupted';
  const ref = plan.mode === 'wait' ? plan.job : { id: newJobId('copy'), queue: plan.queue };
  const spec: JobSpec = {
    jobId: ref.id,
    kind: 'copy',
    from: state.table,
    to: state.to,
    totalSegments: state.totalSegments,
    options: {
      key: run.key,
      ...(options.transform ? { transform: resolve(options.transform) } : {}),
      ...(options.pageSize ? { pageSize: options.pageSize } : {}),
      ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
      ...(options.capacity !== undefined ? { capacity: options.capacity } : {}),
    },
  };
  const queue = new Queue(ref.queue, { connection: redis });
  const status = `rxjs-dynamodb status ${ref.id} --redis ${url}${ref.queue !== DEFAULT_QUEUE_NAME ? ` --queue ${ref.queue}` : ''}`;
  try {
    const text = plan.mode === 'wait' ? await redis.get(jobKey(ref.queue, ref.id)) : null;
    let record: JobRecord;
    if (text) {
      record = JSON.parse(text) as JobRecord;
      const differs = (what: string, was: unknown, is: unknown) =>
        new CliError(
          `the copy job ${ref.id} (checkpoint ${file?.path}) was submitted with ${what} ${String(was)}, not ${String(is)}; pass the same, or start over without --resume`,
          EXIT.usage,
        );
      if (record.kind !== 'copy' || record.from !== spec.from || record.to !== spec.to)
        throw differs('the job', `${record.kind} ${record.from} to ${record.to}`, `copy ${spec.from} to ${spec.to}`);
      if (record.totalSegments !== spec.totalSegments) throw differs('--segments', record.totalSegments, spec.totalSegments);
      if (record.options.transform !== spec.options.transform)
        throw differs('--transform', record.options.transform ?? '(none)', spec.options.transform ?? '(none)');
      // a run stopped between the job's record and its units: add those missing (BullMQ keeps the others as they are)
      const missing = await Promise.all(Array.from({ length: record.totalSegments }, (_, s) => queue.getJob(unitId(ref.id, s))));
      if (missing.some((unit) => !unit)) {
        const { createdAt: _c, queue: _q, ...submitted } = record;
        await enqueueJob(redis, ref.queue, submitted, UNIT_ATTEMPTS);
      }
      process.stderr.write(`migrate: waiting on the copy job ${ref.id} of ${spec.from} into ${spec.to} (queue ${ref.queue})\n`);
    } else {
      if (plan.mode === 'wait')
        process.stderr.write(`migrate: the copy job ${ref.id} is not on queue ${ref.queue} at ${url}: submitting it again under that id\n`);
      // the id first: a run stopped right after the submit waits on this job, never submits a second one
      state.copyJob = ref;
      file?.update(state);
      file?.flush();
      await enqueueJob(redis, ref.queue, spec, UNIT_ATTEMPTS);
      record = { ...spec, createdAt: Date.now(), queue: ref.queue };
      process.stderr.write(
        `migrate: copying ${spec.from} into ${spec.to} as job ${ref.id}: ${spec.totalSegments} units on queue ${ref.queue}; run workers with: ` +
          `rxjs-dynamodb worker --redis ${url}${ref.queue !== DEFAULT_QUEUE_NAME ? ` --queue ${ref.queue}` : ''} (and --endpoint / --region)\n`,
      );
    }
    const workers = await queue.getWorkersCount().catch(() => undefined);
    if (workers === 0) process.stderr.write(`migrate: no worker takes units from queue ${ref.queue} yet: the copy waits for one\n`);
    let lastShown = 0;
    for (;;) {
      const now = await unlessAborted(jobStatus(queue, redis, record), signal);
      if (!now) return 'interrupted';
      const { summary } = now;
      const verdict = copyJobVerdict(summary);
      if (options.progress !== false && (verdict.state !== 'waiting' || Date.now() - lastShown >= WAIT_SHOW_MS)) {
        lastShown = Date.now();
        process.stderr.write(
          `migrate: copy job ${ref.id}: ${summary.done}/${summary.units} units done, ${summary.running} running, ${summary.waiting} waiting, ${summary.failed} failed; ` +
            `${summary.read} items read, ${summary.written} written, ${summary.itemsFailed} failed\n`,
        );
      }
      if (verdict.state === 'failed')
        throw new CliError(
          `the copy job ${ref.id} of ${spec.from} into ${spec.to} failed: ${verdict.why}; ${status} shows each failed unit and its items. ` +
            `The stream was not replayed: fix the cause and start the migration over without --resume`,
          verdict.exitCode,
        );
      if (verdict.state === 'done') {
        job.tally.read += summary.read;
        job.tally.written += summary.written;
        state.segments = state.segments.map(() => ({ done: true }));
        state.complete = true;
        file?.update(state);
        return 'complete';
      }
      try {
        await delay(WAIT_POLL_MS, undefined, { signal });
      } catch {
        return 'interrupted';
      }
    }
  } finally {
    file?.flush();
    await queue.close().catch(() => undefined);
  }
}

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
