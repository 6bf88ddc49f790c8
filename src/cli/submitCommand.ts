/**
 * `rxjs-dynamodb submit copy --from A --to B --segments 32 --redis URL` (or `submit delete --table T --filter … |
 * --all`): checks the tables as `copy` (`delete`) does (and makes the target with `--create-table`), cuts the job into
 * one work unit per segment, enqueues them on the BullMQ queue and prints the job id. Workers (`rxjs-dynamodb worker`) on any number of machines run the units.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Queue } from 'bullmq';
import { loadTransform } from './copyCommand.js';
import { toJsonLine } from './json.js';
import type { CommonOptions, KeySpec } from './options.js';
import { CliError, EXIT, withSession } from './session.js';
import { tableKey, targetKey } from './table.js';
import { connect, DEFAULT_QUEUE, jobKey, type JobRecord, type QueueOptions, ready, unitId } from './unitQueue.js';
import { KINDS, makeUnits, type WorkUnit } from './units.js';
import { updateSpecOf } from './updateCommand.js';

export interface SubmitOptions extends CommonOptions, QueueOptions {
  /** copy */
  from?: string;
  to?: string;
  /** delete, update */
  table?: string;
  all?: boolean;
  /** update */
  set?: Record<string, unknown>;
  add?: Record<string, unknown>;
  remove?: string[];
  filter?: string;
  names?: Record<string, string>;
  values?: Record<string, unknown>;
  /** Units: many more than workers, so that a slow one does not leave one worker running alone. @default 32 */
  segments?: number;
  pageSize?: number;
  transform?: string;
  createTable?: boolean;
  key?: KeySpec[];
  /** Runs of a unit that may fail (it goes on from its cursor each time) before it fails for good. @default 5 */
  attempts?: number;
}

/** A job id: the kind, the time, and random letters. */
const newJobId = (kind: string) => `${kind}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/** Runs `submit`; resolves to the exit code. */
export async function submitCommand(kind: string, options: SubmitOptions): Promise<number> {
  if (!(KINDS as readonly string[]).includes(kind))
    throw new CliError(`submit: the jobs that can be submitted are ${KINDS.join(', ')}, got ${kind}`, EXIT.usage);
  const jobKind = kind as WorkUnit['kind'];
  const need = (flag: string, value: string | undefined) => {
    if (!value) throw new CliError(`submit ${kind} needs ${flag}`, EXIT.usage);
    return value;
  };
  const from = jobKind === 'copy' ? need('--from <table>', options.from) : need('--table <name>', options.table);
  const to = jobKind === 'copy' ? need('--to <table>', options.to) : from;
  if (jobKind !== 'copy' && !options.filter && !options.all)
    throw new CliError(`submit ${kind} without --filter changes every item of ${from}: add --all to say so`, EXIT.usage);
  if (jobKind !== 'copy' && (options.transform || options.createTable))
    throw new CliError(`submit ${kind} takes no --transform or --create-table`, EXIT.usage);
  if (jobKind === 'update') updateSpecOf({ table: from, ...options }); // what to change, checked now
  const update =
    jobKind === 'update'
      ? {
          update: {
            ...(options.set ? { set: toJsonLine(options.set) } : {}),
            ...(options.add ? { add: toJsonLine(options.add) } : {}),
            ...(options.remove ? { remove: options.remove } : {}),
          },
        }
      : {};
  const { segments = 32, attempts = 5 } = options;
  const transform = options.transform ? resolve(options.transform) : undefined;
  if (transform) await loadTransform(transform); // a bad module fails here, not on every worker
  const queue = options.queue ?? DEFAULT_QUEUE;
  const redis = await ready(connect(options.redis), options.redis);
  try {
    return await withSession(options, async (session) => {
      const { signal } = session;
      const source = await tableKey(session.client, from, undefined, { signal, flag: '--from' });
      const key = await targetKey(session.client, to, {
        key: options.key,
        create: options.createTable,
        fallback: source,
        signal,
        flag: '--to',
      });
      const jobId = newJobId(kind);
      const spec = {
        jobId,
        kind: jobKind,
        from,
        to,
        totalSegments: segments,
        options: {
          key: key.names,
          ...(transform ? { transform } : {}),
          ...(options.pageSize ? { pageSize: options.pageSize } : {}),
          ...(options.filter ? { filter: options.filter } : {}),
          ...(options.names ? { names: options.names } : {}),
          ...(options.values ? { values: toJsonLine(options.values) } : {}),
          ...update,
          ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
          ...(options.capacity !== undefined ? { capacity: options.capacity } : {}),
        },
      };
      const record: JobRecord = { ...spec, createdAt: Date.now(), queue };
      // the units first (a bad --segments is refused here), then the job: no job is left without its units
      let units: WorkUnit[];
      try {
        units = makeUnits(spec);
      } catch (error) {
        throw new CliError(`submit: ${(error as Error).message}`, EXIT.usage);
      }
      await redis.set(jobKey(queue, jobId), JSON.stringify(record));
      const bull = new Queue(queue, { connection: redis });
      try {
        await bull.addBulk(
          units.map((unit) => ({
            name: kind,
            data: unit,
            opts: {
              jobId: unitId(jobId, unit.segment),
              attempts,
              backoff: { type: 'exponential', delay: 1_000 },
              removeOnComplete: false,
              removeOnFail: false,
            },
          })),
        );
      } finally {
        await bull.close();
      }
      if (options.json)
        process.stdout.write(`${JSON.stringify({ command: 'submit', ok: true, jobId, queue, units: segments, from, to })}\n`);
      else process.stdout.write(`${jobId}\n`);
      process.stderr.write(
        `submitted ${jobId}: ${kind === 'copy' ? `copy ${from} to ${to}` : `${kind} ${options.filter ? 'matching ' : ''}items of ${from}`} in ${segments} units on queue ${queue}; run workers with: rxjs-dynamodb worker --redis ${options.redis}${queue !== DEFAULT_QUEUE ? ` --queue ${queue}` : ''}\n`,
      );
      return EXIT.ok;
    });
  } finally {
    redis.disconnect();
  }
}
