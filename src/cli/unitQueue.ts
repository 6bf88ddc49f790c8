/**
 * Where `submit`, `worker` and `status` meet in Redis: one BullMQ queue (`--queue`, default `rxjs-dynamodb`) whose
 * jobs are work units (`<jobId>-<segment>`), a key per job holding its description, and a list per unit holding its
 * dead letters. A unit's BullMQ data is the unit itself (its cursor kept up to date by the worker) and the record of
 * each run of it: which worker, from which cursor, and what it did.
 */
import { Redis } from 'ioredis';
import type { StoredKey } from './checkpoint.js';
import type { Tally } from './progress.js';
import { CliError, EXIT } from './session.js';
import type { JobSpec, UnitPosition, WorkUnit } from './units.js';
import { advanceUnit } from './units.js';

/** The queue's name unless `--queue` says. */
export const DEFAULT_QUEUE = 'rxjs-dynamodb';

/** One run of a unit on a worker. */
export interface UnitRun {
  /** The worker (host and pid). */
  worker: string;
  pid: number;
  startedAt: number;
  updatedAt: number;
  /** The cursor the run started from: `null` from the start of the segment. */
  startCursor: StoredKey | null;
  read: number;
  written: number;
  failed: number;
  skipped: number;
  /** Counts of the unit's own kind, summed like the others (a diff unit: its differences by kind, `diffUnits.ts`). */
  counts?: Record<string, number>;
  /** What the run found worth saying that is not a failure (`UnitResult.warnings`). */
  warnings?: string[];
}

/** A unit's tally, with the counts of its own kind, if any (`UnitRun.counts`). */
export type UnitTally = Tally & { counts?: Record<string, number> };

/** A unit's BullMQ data: the unit and its runs. */
export type UnitData = WorkUnit & { runs?: UnitRun[] };

/** A job's description, stored at submit. */
export interface JobRecord extends JobSpec {
  createdAt: number;
  queue: string;
}

/** The BullMQ job id of a unit (BullMQ ids may not contain `:`). */
export const unitId = (jobId: string, segment: number) => `${jobId}-${segment}`;
/** The Redis key of a job's description. */
export const jobKey = (queue: string, jobId: string) => `rxjs-dynamodb:${queue}:job:${jobId}`;
/** The Redis list of a unit's dead letters, one JSON line each. */
export const deadLetterKey = (queue: string, jobId: string, segment: number) => `rxjs-dynamodb:${queue}:dead:${jobId}:${segment}`;

/** A run starts: recorded with the cursor it starts from. */
export function startRun(data: UnitData, worker: string, pid: number, now: number): UnitData {
  const run: UnitRun = {
    worker,
    pid,
    startedAt: now,
    updatedAt: now,
    startCursor: data.done ? null : (data.cursor ?? null),
    read: 0,
    written: 0,
    failed: 0,
    skipped: 0,
  };
  return { ...data, runs: [...(data.runs ?? []), run] };
}

/** The current run moved the cursor (or finished), with its tally so far. */
export function recordProgress(data: UnitData, position: UnitPosition, tally: UnitTally, now: number, warnings?: string[]): UnitData {
  const runs = [...(data.runs ?? [])];
  const last = runs.pop();
  const { read, written, failed, skipped } = tally;
  const counts = tally.counts ? { counts: { ...tally.counts } } : {};
  const told = warnings && warnings.length > 0 ? { warnings: [...warnings] } : {};
  const run = last ? { ...last, updatedAt: now, read, written, failed, skipped, ...counts, ...told } : undefined;
  return { ...advanceUnit(data, position), runs: run ? [...runs, run] : runs };
}

/** The unit alone, without its runs: what `runUnit` takes. */
export function unitOf(data: UnitData): WorkUnit {
  const { runs: _runs, ...unit } = data;
  return unit;
}

/** A Redis connection as BullMQ's workers need it (commands wait for a reconnect instead of failing). */
export function connect(url: string | undefined): Redis {
  if (!url) throw new CliError('--redis <url> is required (or REDIS_URL in the environment), e.g. redis://127.0.0.1:6379', EXIT.usage);
  if (!/^rediss?:\/\//.test(url)) throw new CliError(`--redis must be a URL such as redis://127.0.0.1:6379, got ${url}`, EXIT.usage);
  const redis = new Redis(url, { maxRetriesPerRequest: null, lazyConnect: true });
  redis.on('error', () => undefined); // reported by the command that fails, not as an unhandled event
  return redis;
}

/** Connects, or fails with a message naming the URL. */
export async function ready(redis: Redis, url: string | undefined): Promise<Redis> {
  try {
    await Promise.race([
      redis.connect(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer in 10 s')), 10_000).unref()),
    ]);
    return redis;
  } catch (error) {
    redis.disconnect();
    throw new CliError(`cannot connect to Redis at ${url}: ${(error as Error).message}`);
  }
}

/** The options every command on the queue takes. */
export interface QueueOptions {
  redis: string;
  /** @default 'rxjs-dynamodb' */
  queue?: string;
}
