/**
 * What the write commands (`import`, `copy`, `delete`, `update`) share: the tally, the progress reporter, the dead-letter
 * file, the options they give the write operators, and the end — a summary (human on stderr, or `--json`) and the
 * exit code: 0 only when every item was written.
 */
import type {
  Backpressure,
  BatchWriteResult,
  BatchWriteTableOptions,
  Item,
  ItemWriteOptions,
  ItemWriteResult,
  Progress,
  WriteRequest,
} from '../index.js';
import { DeadLetter } from './deadLetter.js';
import type { CallMeter } from './meter.js';
import type { CommonOptions, WriteOptions } from './options.js';
import { progressReporter, type Reporter, type Tally } from './progress.js';
import type { Settle } from './scanWrite.js';
import { CliError, EXIT } from './session.js';

/** How a job's pipeline ended. */
export type Outcome = 'complete' | 'interrupted';

/** Errors that fail every request alike — no table, no access, no connection: the job stops, nothing more is sent. */
const SYSTEMIC_NAMES = new Set([
  // the shared budget's Redis failed: every request would meet it; the unit goes on from its cursor when it is back
  'CapacityStoreError',
  'ResourceNotFoundException',
  'AccessDeniedException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'MissingAuthenticationTokenException',
  'ExpiredTokenException',
  'CredentialsProviderError',
]);
const SYSTEMIC_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

type ErrorChain = { name?: string; code?: string; message?: string; cause?: unknown; errors?: unknown[] };

/** The underlying error, when it is one that every further request would meet too. */
export function systemicError(error: unknown): ErrorChain | undefined {
  let e = error as ErrorChain | undefined;
  for (let depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    if ((e.name && SYSTEMIC_NAMES.has(e.name)) || (typeof e.code === 'string' && SYSTEMIC_CODES.has(e.code))) return e;
    e = (e.cause ?? e.errors?.[0]) as ErrorChain | undefined;
  }
  return undefined;
}

/** A write job's state, from start to summary. */
export class Job {
  readonly tally: Tally = { read: 0, done: 0, written: 0, failed: 0, skipped: 0 };
  readonly deadLetter: DeadLetter;
  private readonly started = Date.now();
  private progress: Progress | undefined;
  private done = () => this.tally.written + this.tally.failed + this.tally.skipped;
  private reporter: Reporter = { update: () => undefined, stop: () => undefined };

  constructor(
    readonly command: string,
    private readonly options: CommonOptions & WriteOptions,
    /** Names the default dead-letter file: `import-Tickets`. */
    name: string,
    /** The session's count of the Scan calls and their units, for the summary. */
    private readonly meter: CallMeter,
    /** Where the `--json` summary goes: stderr for `export`, whose stdout carries the data. */
    private readonly summaryStream: NodeJS.WritableStream = process.stdout,
  ) {
    this.deadLetter = new DeadLetter(options.deadLetter, name, options.dryRun);
  }

  /**
   * Starts the progress bar (or status lines); `total` is known or approximate, in `unit`s of `done`: by default the
   * items settled (written, failed or skipped); `import` counts the input lines settled.
   */
  report(total: number | undefined, unit: string, done?: () => number): void {
    if (done) this.done = done;
    this.reporter = progressReporter(this.command, { total, unit, enabled: this.options.progress !== false });
  }

  /** The tally changed; the progress shows the write operator's rate too, when it has a throughput controller. */
  update(): void {
    this.tally.done = this.done();
    this.reporter.update(this.tally, this.progress?.rate);
  }

  /** Options for `dynamoBatchWrite` / `dynamoBatchDelete`: failures come out as results (dead-letter flow). */
  writeOptions(keyAttributes: string[], link: Backpressure): BatchWriteTableOptions {
    const { concurrency } = this.options;
    return { keyAttributes, ...this.sinkOptions(link), ...(concurrency !== undefined ? { concurrency } : {}) };
  }

  /** What every write operator of a job is given: results for failures too, reported units, the link, the budget. */
  private sinkOptions(link: Backpressure) {
    const { capacity } = this.options;
    return {
      onFailure: 'emit' as const,
      // the units DynamoDB reports, not an estimate by item size, for the summary's unitsConsumed
      returnConsumedCapacity: 'TOTAL' as const,
      backpressure: link,
      ...(capacity !== undefined ? { capacity: { unitsPerSecond: capacity } } : {}),
      // the controller's rate moves with every call, also while throttled calls settle nothing: show it as it moves
      onProgress: (p: Progress) => {
        this.progress = p;
        if (p.rate) this.update();
      },
    };
  }

  /**
   * Each request of a result, counted: written, or failed with the result's error. A failure that every request
   * would meet (no table, no access, no connection) stops the job instead: it throws, its requests stay unsettled
   * (a checkpoint stays before them, so a resumed run sends them again) and nothing more is sent.
   */
  results(
    result: BatchWriteResult,
    written: (request: WriteRequest) => void,
    failed: (request: WriteRequest, error: unknown) => void,
  ): void {
    for (const request of result.requests) {
      this.tally.written++;
      written(request);
    }
    const systemic = result.failed?.length ? systemicError(result.error) : undefined;
    if (systemic) {
      this.update();
      throw new CliError(
        `DynamoDB failed with ${systemic.name ?? 'Error'}${systemic.code ? ` ${systemic.code}` : ''}: ${systemic.message}`,
      );
    }
    // each failed request with its own error: its own key and reason, in the dead-letter file and on stderr
    for (const { request, error } of result.failures ?? []) {
      this.tally.failed++;
      failed(request, error);
    }
    this.update();
  }

  /**
   * One result of `dynamoUpdate` / `dynamoDelete`, for `item`: written, skipped (its condition was false: the item
   * changed since it was read), or failed. A failure that every request would meet stops the job, as in `results`.
   */
  itemResult(result: ItemWriteResult<unknown>, item: Item, settle: Settle): void {
    if (result.status === 'written') {
      this.tally.written++;
      settle.written(item);
    } else if (result.status === 'conditionFailed') {
      this.tally.skipped++;
      settle.skipped(item);
    } else {
      const systemic = systemicError(result.error);
      if (systemic) {
        this.update();
        throw new CliError(
          `DynamoDB failed with ${systemic.name ?? 'Error'}${systemic.code ? ` ${systemic.code}` : ''}: ${systemic.message}`,
        );
      }
      this.tally.failed++;
      settle.failed(item, result.error);
    }
    this.update();
  }

  /**
   * Options for `dynamoUpdate` / `dynamoDelete`: every result comes out (failures as results, for the dead-letter
   * file), with the units DynamoDB reports. They send one call per item: `--concurrency adaptive` is for batches.
   */
  itemWriteOptions(link: Backpressure): ItemWriteOptions {
    const { concurrency } = this.options;
    if (concurrency === 'adaptive')
      throw new CliError(
        `--concurrency adaptive drives BatchWriteItem calls; ${this.command} sends one call per item here: give a number (default 4)`,
        EXIT.usage,
      );
    return { ...this.sinkOptions(link), ...(concurrency !== undefined ? { concurrency } : {}) };
  }

  /** Stops the progress reporter; safe to call more than once. */
  stop(): void {
    this.reporter.stop();
    this.reporter = { update: () => undefined, stop: () => undefined };
  }

  /**
   * The summary and the exit code. `extra` goes into the `--json` summary; `what` says what was done, for people.
   * A checkpoint file, when there is one, is named so that an interrupted job can be resumed.
   */
  finish(outcome: Outcome, what: string, extra: Record<string, unknown>, checkpoint?: string, skippedWhy?: string): number {
    this.stop();
    const { written, failed, skipped } = this.tally;
    const elapsedMs = Date.now() - this.started;
    const code = outcome === 'interrupted' ? EXIT.interrupted : failed > 0 ? EXIT.notAllWritten : EXIT.ok;
    const deadLetter = this.deadLetter.count > 0 ? this.deadLetter.path : null;
    if (this.options.json) {
      const p = this.progress;
      const summary = {
        command: this.command,
        ok: code === EXIT.ok,
        complete: outcome === 'complete',
        ...extra,
        written,
        failed,
        skipped,
        // every call that read or wrote items: BatchWriteItem (the write operator's count) and Scan (the meter's)
        calls: (p?.calls ?? 0) + this.meter.readCalls,
        scanCalls: this.meter.readCalls,
        retried: p?.retried ?? 0,
        unitsConsumed: (p?.unitsConsumed ?? 0) + this.meter.readUnits,
        readUnitsConsumed: this.meter.readUnits,
        deadLetter,
        checkpoint: checkpoint ?? null,
        elapsedMs,
        exitCode: code,
      };
      this.summaryStream.write(`${JSON.stringify(summary)}\n`);
    }
    const rate = elapsedMs > 0 ? Math.round((written / elapsedMs) * 1000) : 0;
    const lines = [
      `${this.command}: ${written} ${what}, ${failed} failed${skipped ? `, ${skipped} skipped${skippedWhy ? ` (${skippedWhy})` : ''}` : ''} in ${(elapsedMs / 1000).toFixed(1)} s (${rate}/s)`,
    ];
    if (failed > 0) lines.push(`error: ${failed} items were not written; they are in the dead-letter file ${deadLetter}`);
    if (outcome === 'interrupted')
      lines.push(
        checkpoint ? `interrupted: run the same command again with --resume ${checkpoint} to go on` : 'interrupted: the job did not finish',
      );
    process.stderr.write(`${lines.join('\n')}\n`);
    return code;
  }
}
