/**
 * `rxjs-dynamodb submit copy --from A --to B --segments 32 --redis URL` (or `submit delete --table T --filter … |
 * --all`): checks the tables as `copy` (`delete`) does (and makes the target with `--create-table`), cuts the job into
 * one work unit per segment, enqueues them on the BullMQ queue and prints the job id. Workers (`rxjs-dynamodb worker`) on any number of machines run the units.
 * `submit import FILE... --table T --units N` cuts plain NDJSON files into about N byte ranges (importUnits.ts) and
 * makes every other file — gzipped, CSV, DynamoDB JSON, each data file of an export folder — one unit
 * (importFileUnits.ts; importPlan.ts decides); every file must be readable at the same absolute path on every worker.
 */
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { loadTransform } from './copyCommand.js';
import { planExport } from './exportUnits.js';
import { checkWholeGzip, importInputs, importParts, isCuttable } from './importPlan.js';
import type { InputFormat } from './input.js';
import { toJsonLine } from './json.js';
import type { CommonOptions, KeySpec } from './options.js';
import { CliError, EXIT, type Session, withSession } from './session.js';
import { tableKey, targetKey } from './table.js';
import { connect, DEFAULT_QUEUE, jobKey, type JobRecord, type QueueOptions, ready, unitId } from './unitQueue.js';
import { refuseFlags } from './submitFlags.js';
import { type JobSpec, KINDS, makeUnits, type UnitOptions, type UnitPart, type WorkUnit } from './units.js';
import { updateSpecOf } from './updateCommand.js';
import { planDiff } from './diffUnits.js';

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
  /** export: the folder of the part files, one per unit (the same path on every worker). */
  output?: string;
  /**
   * export: the lines of the part files (`ndjson`, `dynamodb-json`). @default 'ndjson'. import: how every file is read.
   * @default each file's own (importPlan.ts)
   */
  format?: InputFormat;
}

/** A job id: the kind, the time, and random letters. */
export const newJobId = (kind: string) => `${kind}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

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
  /** The units themselves, when the planner cuts the job (import: each its own file, range, format). @default `makeUnits`' */
  units?: UnitPart[];
}

/**
 * Checks a job of one kind: its flags and files at once (before Redis is asked), its tables in the session it
 * returns to; and says what its units need.
 */
export type Planner = (
  options: SubmitOptions & { kind: WorkUnit['kind']; files: readonly string[] },
) => (session: Session) => Promise<SubmitPlan>;

const need = (kind: string, flag: string, value: string | undefined) => {
  if (!value) throw new CliError(`submit ${kind} needs ${flag}`, EXIT.usage);
  return value;
};

/** copy, delete, update: a table read by scan segments; copy writes into another, delete and update into itself. */
const planScan: Planner = (options) => {
  const kind = options.kind;
  const from = kind === 'copy' ? need(kind, '--from <table>', options.from) : need(kind, '--table <name>', options.table);
  const to = kind === 'copy' ? need(kind, '--to <table>', options.to) : from;
  if ((kind === 'delete' || kind === 'update') && !options.filter && !options.all)
    throw new CliError(`submit ${kind} without --filter changes every item of ${from}: add --all to say so`, EXIT.usage);
  if ((kind === 'delete' || kind === 'update') && (options.transform || options.createTable))
    throw new CliError(`submit ${kind} takes no --transform or --create-table`, EXIT.usage);
  refuseFlags(kind, options, ['--output', '--format']);
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

/**
 * import: files and export folders, written into a table: plain NDJSON cut into about `--units` byte ranges in all,
 * every other file (gzip, CSV, DynamoDB JSON, an export's data files) one unit (importPlan.ts).
 */
const planImport: Planner = (options) => {
  refuseFlags('import', options, ['--from', '--to', '--filter', '--all', '--transform', '--set', '--add', '--remove', '--output']);
  const inputs = importInputs(options.files, options.format);
  const units = importParts(inputs, { units: options.units ?? options.segments ?? 32 });
  const to = need('import', '--table <name>', options.table);
  const given = options.files.map((f) => resolve(f));
  return async ({ client, signal }) => {
    await checkWholeGzip(inputs, signal);
    // an import has no source table: the target's key comes from DescribeTable, or --key to create it
    const key = await targetKey(client, to, { key: options.key, create: options.createTable, signal, flag: '--table' });
    const bytes = inputs.reduce((n, i) => n + i.size, 0);
    const cut = inputs.filter(isCuttable).length;
    const describe =
      inputs.length === 1 && cut === 1
        ? `import ${inputs[0]!.path} (${bytes} bytes) into ${to}`
        : `import ${given.join(', ')} (${inputs.length} files, ${bytes} bytes: ${cut} cut into byte ranges, ${inputs.length - cut} read whole) into ${to}`;
    // one plain NDJSON file: its own path and size, as before; several files: each unit names its own
    const options1 = inputs.length === 1 && cut === 1 ? { size: inputs[0]!.size } : {};
    return { from: given.join(', '), to, options: { key: key.names, ...options1 }, describe, totalSegments: units.length, units };
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
    case 'export':
      return planExport;
    case 'diff':
      return planDiff;
    default:
      throw new CliError(`submit ${kind} is not supported yet`, EXIT.usage);
  }
}

/**
 * Cuts a job into its units and puts them on the queue: the units first (a bad `totalSegments` is refused, usage,
 * before anything is stored), then the job's record, then the units, each to be tried `attempts` times. Returns the
 * units.
 */
export async function enqueueJob(
  redis: Redis,
  queue: string,
  spec: JobSpec,
  attempts: number,
  parts?: readonly UnitPart[],
): Promise<WorkUnit[]> {
  let units: WorkUnit[];
  try {
    units = makeUnits(spec, parts);
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

/** Runs `submit`; resolves to the exit code. `files` are an import's inputs (the other jobs take none). */
export async function submitCommand(kind: string, files: string | readonly string[] | undefined, options: SubmitOptions): Promise<number> {
  const inputs: readonly string[] = typeof files === 'string' ? [files] : (files ?? []);
  if (!(KINDS as readonly string[]).includes(kind))
    throw new CliError(`submit: the jobs that can be submitted are ${KINDS.join(', ')}, got ${kind}`, EXIT.usage);
  const jobKind = kind as WorkUnit['kind'];
  if (jobKind !== 'import' && inputs.length > 0)
    throw new CliError(`submit ${kind} takes no file argument, got ${inputs.join(' ')}`, EXIT.usage);
  const plan = plannerOf(jobKind)({ ...options, kind: jobKind, files: inputs });
  if (options.units !== undefined && options.segments !== undefined && options.units !== options.segments)
    throw new CliError(`give --units or --segments, not both (${options.units} and ${options.segments})`, EXIT.usage);
  const { attempts = 5 } = options;
  const segments = options.units ?? options.segments ?? 32;
  // before the planner's work in the session (an export claims its folder): a bad count leaves nothing behind
  if (!Number.isInteger(segments) || segments < 1 || segments > 1_000_000)
    throw new CliError(`submit: --segments (--units) must be an integer from 1 to 1000000, got ${segments}`, EXIT.usage);
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
      await enqueueJob(redis, queue, spec, attempts, planned.units);
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
