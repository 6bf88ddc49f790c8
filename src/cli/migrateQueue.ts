/**
 * `migrate --redis URL`: the copy phase of a migration as a `copy` job on the BullMQ queue, run by the workers
 * (`rxjs-dynamodb worker`) while migrate waits for it (migrateCommand.ts replays the stream after). Only what the
 * queue needs is loaded, and only when `--redis` is given: migrate without it never loads BullMQ or ioredis.
 */
import { resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import type { CheckpointFile } from './checkpoint.js';
import type { Job, Outcome } from './job.js';
import type { CopyJobRef, MigrateCheckpoint, MigrateOptions } from './migrateCommand.js';
import { CliError, EXIT, type Session } from './session.js';
import type { summarize } from './statusCommand.js';
import type { JobRecord } from './unitQueue.js';
import type { JobSpec } from './units.js';

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
export interface QueueCopy {
  session: Session;
  redis: Redis;
  state: MigrateCheckpoint;
  file: CheckpointFile<MigrateCheckpoint> | undefined;
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
export async function copyOnQueue(run: QueueCopy, plan: Extract<CopyPlan, { mode: 'submit' | 'wait' }>): Promise<Outcome> {
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
