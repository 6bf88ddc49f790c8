/**
 * `rxjs-dynamodb submit copy --from A --to B --segments 32 --redis URL` (or `submit delete --table T --filter … |
 * --all`): checks the tables as `copy` (`delete`) does (and makes the target with `--create-table`), cuts the job into
 * one work unit per segment, enqueues them on the BullMQ queue and prints the job id. Workers (`rxjs-dynamodb worker`) on any number of machines run the units.
 * `submit import FILE --table T --units N` cuts one plain NDJSON file into N byte ranges (importUnits.ts); the file
 * must be readable at the same absolute path on every worker.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadTransform } from './copyCommand.js';
import { looksLikeDynamoJson } from './dynamoJson.js';
import { defaultFormat, isGzipFile } from './inputFiles.js';
import { parseJsonItem, toJsonLine } from './json.js';
import type { CommonOptions, KeySpec } from './options.js';
import { CliError, EXIT, type Session, withSession } from './session.js';
import { tableKey, targetKey } from './table.js';
import { connect, DEFAULT_QUEUE, jobKey, type JobRecord, type QueueOptions, ready, unitId } from './unitQueue.js';
import { type JobSpec, KINDS, makeUnits, type UnitOptions, type WorkUnit } from './units.js';
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
  /** The same as `segments` (the word for an import's byte ranges). */
  units?: number;
  pageSize?: number;
  transform?: string;
  createTable?: boolean;
  key?: KeySpec[];
  /** Runs of a unit that may fail (it goes on from its cursor each time) before it fails for good. @default 5 */
  attempts?: number;
}

/** A job id: the kind, the time, and random letters. */
export const newJobId = (kind: string) => `${kind}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

/** The first non-blank line of a file (at most 1 MB of it), to tell DynamoDB JSON from NDJSON before any unit runs. */
function firstLine(file: string): string | undefined {
  const head = Buffer.alloc(1024 * 1024);
  const fd = openSync(file, 'r');
  try {
    const text = head.subarray(0, readSync(fd, head, 0, head.length, 0)).toString('utf8');
    return text.split('\n').find((line) => line.trim() !== '');
  } finally {
    closeSync(fd);
  }
}

/**
 * An import job's file, checked: one plain NDJSON file (CSV, gzip, DynamoDB JSON and export folders are refused for
 * now: `import` reads them on one machine). Returns its absolute path and size.
 */
function importFile(file: string | undefined, options: SubmitOptions): { path: string; size: number } {
  const refuse = (why: string) => new CliError(`submit import: ${why}`, EXIT.usage);
  if (!file || file === '-') throw refuse('give the NDJSON file to import (stdin cannot be cut into units)');
  if (!existsSync(file)) throw refuse(`cannot read ${file}: no such file`);
  const stat = statSync(file);
  const alone = `; run rxjs-dynamodb import ${file} on one machine instead`;
  if (stat.isDirectory()) throw refuse(`${file} is a folder: the folder of a DynamoDB export cannot be cut into units yet${alone}`);
  if (!stat.isFile()) throw refuse(`${file} is not a regular file`);
  if (defaultFormat(file) === 'csv') throw refuse(`${file} is CSV: only plain NDJSON can be cut into units yet${alone}`);
  if (isGzipFile(file))
    throw refuse(`${file} is gzipped: a gzipped file cannot be cut into byte ranges; gunzip it first, or${alone.slice(1)}`);
  const first = firstLine(file);
  let item: Record<string, unknown> | undefined;
  try {
    item = first !== undefined ? parseJsonItem(first) : undefined;
  } catch {
    // a bad first line is the first unit's dead letter, not a reason to refuse the job
  }
  if (item && looksLikeDynamoJson(item))
    throw refuse(`${file} looks like DynamoDB JSON ({"Item": {"…": {"S": …}}}): only plain NDJSON can be cut into units yet${alone}`);
  for (const [flag, given] of Object.entries({
    '--from': options.from,
    '--to': options.to,
    '--filter': options.filter,
    '--all': options.all,
    '--transform': options.transform,
    '--set': options.set,
    '--add': options.add,
    '--remove': options.remove,
  }))
    if (given !== undefined) throw refuse(`${flag} is not an option of an import`);
  return { path: resolve(file), size: stat.size };
}

/** What `submit` learned of one job, checked: where it reads, where it writes, and the unit options of its kind. */
export interface SubmitPlan {
  from: string;
  to: string;
  /** The target's key, and the options only this kind of unit has (the common ones are added by `submit`). */
  options: UnitOptions;
  /** The job in words, for the line on stderr: e.g. `copy A to B`. */
  describe: string;
  /** Units of the job, when its kind decides them (e.g. one per file). @default --segments (--units), or 32 */
  totalSegments?: number;
}

/**
 * Checks a job of one kind: its flags and files at once (before Redis is asked), its tables in the session it
 * returns to; and says what its units need.
 */
export type Planner = (
  file: string | undefined,
  options: SubmitOptions & { kind: WorkUnit['kind'] },
) => (session: Session) => Promise<SubmitPlan>;

const need = (kind: string, flag: string, value: string | undefined) => {
  if (!value) throw new CliError(`submit ${kind} needs ${flag}`, EXIT.usage);
  return value;
};

/** copy, delete, update: a table read by scan segments; copy writes into another, delete and update into itself. */
const planScan: Planner = (_file, options) => {
  const kind = options.kind;
  const from = kind === 'copy' ? need(kind, '--from <table>', options.from) : need(kind, '--table <name>', options.table);
  const to = kind === 'copy' ? need(kind, '--to <table>', options.to) : from;
  if ((kind === 'delete' || kind === 'update') && !options.filter && !options.all)
    throw new CliError(`submit ${kind} without --filter changes every item of ${from}: add --all to say so`, EXIT.usage);
  if ((kind === 'delete' || kind === 'update') && (options.transform || options.createTable))
    throw new CliError(`submit ${kind} takes no --transform or --create-table`, EXIT.usage);
  if (kind === 'update') updateSpecOf({ table: from, ...options }); // what to change, checked now
  const update =
    kind === 'update'
      ? {
          update: {
            ...(options.set ? { set: toJsonLine(options.set) } : {}),
            ...(options.add ? { add: toJsonLine(options.add) } : {}),
            ...(options.remove ? { remove: options.remove } : {}),
          },
        }
      : {};
  return async ({ client, signal }) => {
    const source = await tableKey(client, from, undefined, { signal, flag: '--from' });
    const key = await targetKey(client, to, { key: options.key, create: options.createTable, fallback: source, signal, flag: '--to' });
    const describe = kind === 'copy' ? `copy ${from} to ${to}` : `${kind} ${options.filter ? 'matching ' : ''}items of ${from}`;
    return { from, to, options: { key: key.names, ...update }, describe };
  };
};

/** import: one plain NDJSON file cut into byte ranges, written into a table. */
const planImport: Planner = (file, options) => {
  const input = importFile(file, options);
  const to = need('import', '--table <name>', options.table);
  return async ({ client, signal }) => {
    // an import has no source table: the target's key comes from DescribeTable, or --key to create it
    const key = await targetKey(client, to, { key: options.key, create: options.createTable, signal, flag: '--table' });
    const describe = `import ${input.path} (${input.size} bytes) into ${to}`;
    return { from: input.path, to, options: { key: key.names, size: input.size }, describe };
  };
};

/** The planner of each kind of job. */
function plannerOf(kind: WorkUnit['kind']): Planner {
  switch (kind) {
    case 'copy':
    case 'delete':
    case 'update':
      return planScan;
    case 'import':
      return planImport;
    default:
      throw new CliError(`submit ${kind} is not supported yet`, EXIT.usage);
  }
}

/**
 * Cuts a job into its units and puts them on the queue: the units first (a bad `totalSegments` is refused, usage,
 * before anything is stored), then the job's record, then the units, each to be tried `attempts` times. Returns the
 * units.
 */
export async function enqueueJob(redis: Redis, queue: string, spec: JobSpec, attempts: number): Promise<WorkUnit[]> {
  let units: WorkUnit[];
  try {
    units = makeUnits(spec);
  } catch (error) {
    throw new CliError(`submit: ${(error as Error).message}`, EXIT.usage);
  }
  const record: JobRecord = { ...spec, createdAt: Date.now(), queue };
  await redis.set(jobKey(queue, spec.jobId), JSON.stringify(record));
  const bull = new Queue(queue, { connection: redis });
  try {
    await bull.addBulk(
      units.map((unit) => ({
        name: spec.kind,
        data: unit,
        opts: {
          jobId: unitId(spec.jobId, unit.segment),
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
  return units;
}

/** Runs `submit`; resolves to the exit code. `file` is an import's input (the other jobs take none). */
export async function submitCommand(kind: string, file: string | undefined, options: SubmitOptions): Promise<number> {
  if (!(KINDS as readonly string[]).includes(kind))
    throw new CliError(`submit: the jobs that can be submitted are ${KINDS.join(', ')}, got ${kind}`, EXIT.usage);
  const jobKind = kind as WorkUnit['kind'];
  if (jobKind !== 'import' && file !== undefined) throw new CliError(`submit ${kind} takes no file argument, got ${file}`, EXIT.usage);
  const plan = plannerOf(jobKind)(file, { ...options, kind: jobKind });
  if (options.units !== undefined && options.segments !== undefined && options.units !== options.segments)
    throw new CliError(`give --units or --segments, not both (${options.units} and ${options.segments})`, EXIT.usage);
  const { attempts = 5 } = options;
  const segments = options.units ?? options.segments ?? 32;
  const transform = options.transform ? resolve(options.transform) : undefined;
  if (transform) await loadTransform(transform); // a bad module fails here, not on every worker
  const queue = options.queue ?? DEFAULT_QUEUE;
  const redis = await ready(connect(options.redis), options.redis);
  try {
    return await withSession(options, async (session) => {
      const { from, to, describe, ...planned } = await plan(session);
      const totalSegments = planned.totalSegments ?? segments;
      const jobId = newJobId(kind);
      const spec = {
        jobId,
        kind: jobKind,
        from,
        to,
        totalSegments,
        options: {
          ...planned.options,
          ...(transform ? { transform } : {}),
          ...(options.pageSize ? { pageSize: options.pageSize } : {}),
          ...(options.filter ? { filter: options.filter } : {}),
          ...(options.names ? { names: options.names } : {}),
          ...(options.values ? { values: toJsonLine(options.values) } : {}),
          ...(options.concurrency !== undefined ? { concurrency: options.concurrency } : {}),
          ...(options.capacity !== undefined ? { capacity: options.capacity } : {}),
        },
      };
      await enqueueJob(redis, queue, spec, attempts);
      if (options.json)
        process.stdout.write(`${JSON.stringify({ command: 'submit', ok: true, jobId, queue, units: totalSegments, from, to })}\n`);
      else process.stdout.write(`${jobId}\n`);
      process.stderr.write(
        `submitted ${jobId}: ${describe} in ${totalSegments} units on queue ${queue}; run workers with: rxjs-dynamodb worker --redis ${options.redis}${queue !== DEFAULT_QUEUE ? ` --queue ${queue}` : ''}\n`,
      );
      return EXIT.ok;
    });
  } finally {
    redis.disconnect();
  }
}
