/**
 * `rxjs-dynamodb status <jobId> --redis URL [--watch] [--json]`: a submitted job across all its workers — units
 * done, running, waiting and failed; items read, written, failed; the write rate — and each failed unit with its
 * error and its dead letters. Exit codes: 0 every unit done (every item written); 1 some unit failed for good (its
 * items are listed); 3 no such job (or no Redis); 4 not finished yet. With `--watch` it prints the status every
 * `--interval` seconds until every unit is done or failed, then exits 0 or 1. A diff job (diffUnits.ts) says `equal` or
 * counts its differences by kind and lists the first ones: 0 equal, 1 not equal, 3 some unit failed, 4 not finished.
 */
import { type Job as BullJob, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { diffStatus } from './diffUnits.js';
import { parseJsonValue, toJsonLine } from './json.js';
import { CliError, EXIT } from './session.js';
import {
  connect,
  deadLetterKey,
  DEFAULT_QUEUE,
  jobKey,
  type JobRecord,
  type QueueOptions,
  ready,
  type UnitData,
  unitId,
} from './unitQueue.js';

export interface StatusOptions extends QueueOptions {
  json?: boolean;
  watch?: boolean;
  /** Seconds between two reports of `--watch`. @default 2 */
  interval?: number;
}

/** Not finished: units still waiting or running. */
export const EXIT_RUNNING = 4;

/** How BullMQ's states count here. */
export type UnitState = 'done' | 'failed' | 'running' | 'waiting';

/** One unit, as `status --json` shows it. */
export interface UnitStatus {
  segment: number;
  state: UnitState;
  /** Runs of the unit so far (more than one: it was retried, or its worker died, and it went on from its cursor). */
  runs: NonNullable<UnitData['runs']>;
  read: number;
  written: number;
  failed: number;
  error?: string;
  /** For a failed unit: its dead letters (the items not written, each with its error). */
  deadLetters?: unknown[];
  deadLetterCount: number;
}

/** The state of a unit from BullMQ's. */
export function unitState(bullState: string): UnitState {
  if (bullState === 'completed') return 'done';
  if (bullState === 'failed') return 'failed';
  if (bullState === 'active') return 'running';
  return 'waiting'; // waiting, delayed (a retry's backoff), prioritized, unknown (not added yet)
}

/** The job's totals from its units; `rate` is items written per second from the first run's start to the last save. */
export function summarize(units: UnitStatus[]) {
  const count = (state: UnitState) => units.filter((u) => u.state === state).length;
  const sum = (f: (u: UnitStatus) => number) => units.reduce((n, u) => n + f(u), 0);
  const runs = units.flatMap((u) => u.runs);
  const start = Math.min(...runs.map((r) => r.startedAt));
  const end = Math.max(...runs.map((r) => r.updatedAt));
  const written = sum((u) => u.written);
  const seconds = runs.length > 0 ? (end - start) / 1000 : 0;
  return {
    units: units.length,
    done: count('done'),
    running: count('running'),
    waiting: count('waiting'),
    failed: count('failed'),
    read: sum((u) => u.read),
    written,
    itemsFailed: sum((u) => u.failed),
    rate: seconds > 0 ? Math.round(written / seconds) : 0,
    workers: new Set(runs.map((r) => r.worker)).size,
  };
}

/** The exit code of a summary. */
export const statusExit = (s: ReturnType<typeof summarize>) =>
  s.failed > 0 || (s.done === s.units && s.itemsFailed > 0) ? EXIT.notAllWritten : s.done === s.units ? EXIT.ok : EXIT_RUNNING;

/** Dead letters of a failed unit to read: none, the first n, or all. */
type DeadLetterRead = number | 'all';

async function unitStatus(queue: Queue, redis: Redis, record: JobRecord, segment: number, read: DeadLetterRead): Promise<UnitStatus> {
  const job = (await queue.getJob(unitId(record.jobId, segment))) as BullJob<UnitData> | undefined;
  const state = job ? unitState(await job.getState()) : 'waiting';
  const runs = job?.data.runs ?? [];
  const sum = (f: (r: (typeof runs)[number]) => number) => runs.reduce((n, r) => n + f(r), 0);
  const key = deadLetterKey(record.queue, record.jobId, segment);
  const deadLetterCount = await redis.llen(key);
  return {
    segment,
    state,
    runs,
    read: sum((r) => r.read),
    written: sum((r) => r.written),
    failed: sum((r) => r.failed),
    ...(state === 'failed' && job?.failedReason ? { error: job.failedReason } : {}),
    ...(state === 'failed' && read !== 0
      ? { deadLetters: (await redis.lrange(key, 0, read === 'all' ? -1 : read - 1)).map((line) => parseJsonValue(line)) }
      : {}),
    deadLetterCount,
  };
}

/**
 * Each unit of a job as it stands now, and the job's totals (`summarize`): what `status` prints, and what `migrate
 * --redis` waits on.
 *
 * @param queue The job's BullMQ queue (`record.queue`).
 * @param redis A connection to the queue's Redis.
 * @param record The job's record, as `submit` stored it (`jobKey`).
 * @param deadLetters The dead letters of each failed unit to read: none (the default), the first n, or `'all'`.
 * @returns The units, by segment, and their totals.
 */
export async function jobStatus(
  queue: Queue,
  redis: Redis,
  record: JobRecord,
  deadLetters: DeadLetterRead = 0,
): Promise<{ units: UnitStatus[]; summary: ReturnType<typeof summarize> }> {
  const units = await Promise.all(Array.from({ length: record.totalSegments }, (_, s) => unitStatus(queue, redis, record, s, deadLetters)));
  return { units, summary: summarize(units) };
}

/** Runs `status`; resolves to the exit code. */
export async function statusCommand(jobId: string, options: StatusOptions): Promise<number> {
  const queueName = options.queue ?? DEFAULT_QUEUE;
  const redis = await ready(connect(options.redis), options.redis);
  const queue = new Queue(queueName, { connection: redis });
  try {
    const text = await redis.get(jobKey(queueName, jobId));
    if (!text) throw new CliError(`no job ${jobId} on queue ${queueName} at ${options.redis} (check the id, --redis and --queue)`);
    const record = JSON.parse(text) as JobRecord;
    for (;;) {
      // the text shows 10 dead letters of a failed unit; the JSON all of them, read once, for the report it prints
      let { units, summary } = await jobStatus(queue, redis, record, options.json ? 0 : 10);
      const last = !options.watch || summary.running + summary.waiting === 0;
      if (options.json && last) ({ units, summary } = await jobStatus(queue, redis, record, 'all'));
      // a diff job's result is what its units found: equal (0), not (1), or not finished (4)
      const diff =
        record.kind === 'diff'
          ? await diffStatus(record, units, summary, (s, n) => redis.lrange(deadLetterKey(record.queue, record.jobId, s), 0, n - 1))
          : undefined;
      const code = diff ? diff.exitCode : statusExit(summary);
      const finished = summary.running + summary.waiting === 0;
      if (options.json) {
        if (!options.watch || finished)
          process.stdout.write(
            `${toJsonLine({ command: 'status', ok: code === EXIT.ok, jobId, kind: record.kind, from: record.from, to: record.to, ...summary, ...(diff ? { diff: diff.status } : {}), unitStatus: units, exitCode: code })}\n`,
          );
      } else {
        process.stdout.write(
          diff
            ? diff.text
            : `${jobId}: ${record.kind === 'copy' ? `copy ${record.from} to ${record.to}` : `${record.kind} items of ${record.from}`}: ${summary.units} units: ${summary.done} done, ${summary.running} running, ${summary.waiting} waiting, ${summary.failed} failed; items ${summary.read} read, ${summary.written} written, ${summary.itemsFailed} failed; ${summary.rate} items/s over ${summary.workers} workers\n`,
        );
        for (const u of units)
          for (const warning of u.runs.flatMap((r) => r.warnings ?? [])) process.stdout.write(`  unit ${u.segment}: warning: ${warning}\n`);
        for (const u of units.filter((u) => u.state === 'failed')) {
          process.stdout.write(`  unit ${u.segment} failed: ${u.error ?? 'unknown error'}; ${u.deadLetterCount} dead letters\n`);
          for (const d of (u.deadLetters ?? []).slice(0, 10)) process.stdout.write(`    ${toJsonLine(d)}\n`);
        }
      }
      if (!options.watch || finished) return code;
      await new Promise((r) => setTimeout(r, (options.interval ?? 2) * 1000));
    }
  } finally {
    await queue.close();
    redis.disconnect();
  }
}
