/**
 * `rxjs-dynamodb worker --redis URL [--concurrency N]`: takes work units from the BullMQ queue and runs them
 * (`runUnit`), saving each unit's cursor and tally into its BullMQ data as it goes (at most every `--save-ms`), its
 * dead letters first, into a Redis list. A worker that dies leaves its units locked until `--lock-seconds` pass;
 * BullMQ's stalled-job check (in any live worker) then puts them back, and the next worker goes on from the saved
 * cursor. A unit whose items could not all be written fails for good (its dead letters are kept, `status` shows
 * them); one that stopped (no table, no connection) is tried again from its cursor, up to the job's attempts.
 * SIGINT / SIGTERM: units in progress stop at their cursor and go back to the queue; the worker exits 0.
 */
import { hostname } from 'node:os';
import { type Job as BullJob, UnrecoverableError, WaitingError, Worker } from 'bullmq';
import { capacity, type CapacityBudget, redisCapacityStore } from '../index.js';
import type { Redis } from 'ioredis';
import type { DeadLetterRecord } from './deadLetter.js';
import { toJsonLine } from './json.js';
import type { ConnectionOptions } from './options.js';
import type { Tally } from './progress.js';
import { createClient, EXIT, isLocalEndpoint } from './session.js';
import {
  connect,
  DEFAULT_QUEUE,
  deadLetterKey,
  type QueueOptions,
  ready,
  recordProgress,
  startRun,
  type UnitData,
  unitOf,
} from './unitQueue.js';
import { runUnit, type UnitPosition } from './units.js';

export interface WorkerOptions extends ConnectionOptions, QueueOptions {
  /** Units run at once by this worker. @default 1 */
  concurrency?: number;
  /** Seconds a unit stays locked to a worker that stopped answering, before another may take it. @default 30 */
  lockSeconds?: number;
  /** Least milliseconds between two saves of a unit's cursor. @default 250 */
  saveMs?: number;
  /** One JSON line per unit run on stdout. */
  json?: boolean;
  /**
   * Budgets shared across workers, given to every unit this worker runs. @default with a job's `--capacity U`, one
   * read and one write budget of U units per second for the whole job, kept in the same Redis: every worker on the
   * job, however many, together stays within U
   */
  sharedCapacity?: (data: UnitData) => { read?: CapacityBudget; write?: CapacityBudget } | undefined;
}

/** The shared budgets of the jobs whose units a worker runs now. */
interface JobBudgets {
  /** The read and write budgets of a unit's job (none without `--capacity`); `release` once the unit ends. */
  take(data: UnitData): { read: CapacityBudget; write: CapacityBudget } | undefined;
  release(data: UnitData): void;
  /** Jobs whose budgets are held now. */
  readonly size: number;
}

/**
 * One read and one write budget per job, of the job's `--capacity` units per second each, kept in Redis (one GCRA
 * per job and kind): shared by every unit of the job on every worker. A job's pair is kept while a unit of it runs
 * here, and let go with its last one (a long-lived worker does not keep every job it ever ran).
 */
export function jobBudgets(redis: Redis, queue: string): JobBudgets {
  const store = redisCapacityStore(redis, { prefix: `rxjs-dynamodb:${queue}:capacity:` });
  const held = new Map<string, { read: CapacityBudget; write: CapacityBudget; units: number }>();
  return {
    take: (data) => {
      const unitsPerSecond = data.options.capacity;
      if (unitsPerSecond === undefined) return undefined;
      let pair = held.get(data.jobId);
      if (!pair) {
        pair = {
          read: capacity({ unitsPerSecond, store, key: `${data.jobId}:read` }),
          write: capacity({ unitsPerSecond, store, key: `${data.jobId}:write` }),
          units: 0,
        };
        held.set(data.jobId, pair);
      }
      pair.units++;
      return { read: pair.read, write: pair.write };
    },
    release: (data) => {
      const pair = held.get(data.jobId);
      if (pair && --pair.units <= 0) held.delete(data.jobId);
    },
    get size() {
      return held.size;
    },
  };
}

/** Saves one unit's state: dead letters, then the data with its cursor; at most every `saveMs`, in order. */
class UnitSaver {
  private pending: string[] = [];
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private error: unknown;

  constructor(
    private data: UnitData,
    private readonly job: BullJob<UnitData>,
    private readonly push: (lines: string[]) => Promise<unknown>,
    private readonly saveMs: number,
  ) {}

  get current(): UnitData {
    return this.data;
  }

  deadLetter(record: DeadLetterRecord): void {
    this.pending.push(toJsonLine(record));
  }

  progress(position: UnitPosition, tally: Tally, warnings?: string[]): void {
    this.data = recordProgress(this.data, position, tally, Date.now(), warnings);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      // a failed save is reported by the unit's final save(); an unhandled rejection here would kill the worker
      this.save().catch(() => undefined);
    }, this.saveMs);
  }

  /** Saves now (after any save in progress); rejects with the first error of a save. */
  save(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const lines = this.pending.splice(0);
    const data = this.data;
    this.chain = this.chain.then(async () => {
      // after a failed save nothing more is saved: the unit fails and goes on, elsewhere or later, from the last
      // cursor kept, and no cursor is ever saved past dead letters that were not
      if (this.error) return;
      try {
        // the dead letters first: the cursor never names an item as settled before its dead letter is kept
        if (lines.length > 0) await this.push(lines);
        await this.job.updateData(data);
      } catch (error) {
        this.error = error;
      }
    });
    return this.chain.then(() => {
      if (this.error) throw this.error;
    });
  }
}

/** Runs `worker` until SIGINT / SIGTERM; resolves to the exit code. */
export async function workerCommand(options: WorkerOptions): Promise<number> {
  const { concurrency = 1, lockSeconds = 30, saveMs = 250 } = options;
  const queue = options.queue ?? DEFAULT_QUEUE;
  const redis = await ready(connect(options.redis), options.redis);
  const client = createClient(options);
  if (options.endpoint) isLocalEndpoint(options.endpoint); // a bad URL fails now
  const name = `${hostname()}:${process.pid}`;
  const stopping = new AbortController();
  const log = (line: string) => process.stderr.write(`worker ${name}: ${line}\n`);

  const budgets = jobBudgets(redis, queue);
  const processor = async (job: BullJob<UnitData>, token?: string) => {
    const first = startRun(job.data, name, process.pid, Date.now());
    const where = `unit ${job.data.jobId}/${job.data.segment}`;
    await job.updateData(first);
    log(`${where} ${first.done ? 'is done already' : first.cursor ? 'goes on from its cursor' : 'starts'} (run ${first.runs!.length})`);
    const saver = new UnitSaver(
      first,
      job,
      (lines) => redis.rpush(deadLetterKey(queue, job.data.jobId, job.data.segment), ...lines),
      saveMs,
    );
    const capacity = options.sharedCapacity ? options.sharedCapacity(first) : budgets.take(first);
    let result;
    try {
      result = await runUnit(unitOf(first), {
        client,
        signal: stopping.signal,
        onCursor: (position, tally) => saver.progress(position, tally),
        onDeadLetter: (record) => saver.deadLetter(record),
        ...(capacity ? { capacity } : {}),
      });
      saver.progress(result.position, result.tally, result.warnings);
      for (const warning of result.warnings ?? []) log(`${where}: warning: ${warning}`);
    } catch (error) {
      await saver.save().catch(() => undefined);
      log(`${where} stopped: ${(error as Error).message} (tried again from its cursor while attempts remain)`);
      throw error;
    } finally {
      if (!options.sharedCapacity) budgets.release(first);
    }
    await saver.save();
    const run = saver.current.runs!.at(-1)!;
    if (options.json)
      process.stdout.write(`${JSON.stringify({ event: 'unit', outcome: result.outcome, ...unitOf(saver.current), run })}\n`);
    if (result.outcome === 'interrupted') {
      log(`${where} stopped at its cursor; back in the queue`);
      await job.moveToWait(token);
      throw new WaitingError();
    }
    const { written, failed, skipped } = result.tally;
    log(`${where} done: ${written} written, ${failed} failed, ${skipped} skipped`);
    // items dead-lettered by an earlier run of this unit (one that was stopped or died after them) count too
    const everFailed = saver.current.runs?.reduce((n, r) => n + r.failed, 0) ?? failed;
    // a diff unit writes nothing: what it found (differences, items it could not compare) is its result, not a failure
    if (everFailed > 0 && job.data.kind !== 'diff')
      throw new UnrecoverableError(
        `${everFailed} items were not written; they are in the unit's dead letters (rxjs-dynamodb status shows them)`,
      );
    return { written, failed, skipped, read: result.tally.read };
  };

  const worker = new Worker<UnitData>(queue, processor, {
    connection: redis,
    concurrency,
    lockDuration: lockSeconds * 1000,
    stalledInterval: Math.max(1000, (lockSeconds * 1000) / 2),
    // a unit may lose its worker a few times (each time it goes on from its cursor) before it fails
    maxStalledCount: 5,
  });
  worker.on('error', (error) => log(`error: ${error.message}`));
  worker.on('failed', (job, error) => {
    if (job && !(error instanceof WaitingError)) log(`unit ${job.data.jobId}/${job.data.segment} failed: ${error.message}`);
  });
  log(`taking units from queue ${queue} (${concurrency} at once)`);

  await new Promise<void>((resolve) => {
    const stop = () => {
      if (stopping.signal.aborted) process.exit(EXIT.interrupted);
      log('stopping: units in progress go back to the queue at their cursor (press Ctrl-C again to quit at once)');
      stopping.abort();
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await worker.close();
  client.destroy();
  redis.disconnect();
  log('stopped');
  return EXIT.ok;
}
