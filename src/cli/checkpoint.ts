/**
 * `--resume FILE`: a JSON checkpoint, replaced atomically (write to a temporary file, then rename) at most every
 * 250 ms as the job goes and once at the end, so a job killed at any moment leaves a whole checkpoint behind.
 * It only ever names work that is settled: written, or failed and in the dead-letter file.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { NumberValueImpl as NumberValue } from '@aws-sdk/util-dynamodb';
import type { Key } from '../index.js';
import { CliError, EXIT } from './session.js';

/**
 * A key attribute value that survives JSON exactly: an AttributeValue, numbers as their digits, binary as base64.
 * `{ "N": "12345678901234567.5" }`, never a JavaScript number.
 */
export type StoredKey = Record<string, { S: string } | { N: string } | { B: string }>;

/** DynamoDB's number syntax: the digits of an N value. */
const NUMBER = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A `LastEvaluatedKey` as JSON, every digit kept; a key that could not be stored exactly is refused, named. */
export function storeKey(key: Key): StoredKey {
  const stored: StoredKey = {};
  for (const [name, value] of Object.entries(key)) {
    if (typeof value === 'string') stored[name] = { S: value };
    else if (typeof value === 'bigint') stored[name] = { N: String(value) };
    else if (typeof value === 'number') {
      // the sources hand out a number only when it is exact; an unsafe integer here has lost digits already
      if (!Number.isFinite(value) || (Number.isInteger(value) && !Number.isSafeInteger(value)))
        throw new Error(`cannot store key attribute ${name} = ${value} in a checkpoint: the number is not exact`);
      stored[name] = { N: String(value) };
    } else if (value instanceof Uint8Array) stored[name] = { B: Buffer.from(value).toString('base64') };
    else if (value && typeof value === 'object' && typeof (value as { value?: unknown }).value === 'string')
      stored[name] = { N: (value as { value: string }).value }; // a NumberValue: its text, as DynamoDB sent it
    else throw new Error(`cannot store key attribute ${name} of type ${typeof value} in a checkpoint`);
  }
  return stored;
}

/**
 * A stored key back as a `startKey`, every digit kept: an N value comes back as a `NumberValue` holding its text,
 * which is marshalled back to the very same N value (never through a JavaScript number).
 */
export function loadKey(stored: StoredKey, where = 'the checkpoint'): Key {
  const key: Key = {};
  const bad = (name: string) =>
    new CliError(`${where} has a start key attribute ${name} that is not an S, N or B value: ${JSON.stringify(stored[name])}`, EXIT.usage);
  for (const [name, value] of Object.entries(stored ?? {})) {
    const v = value as Record<string, unknown>;
    if (typeof v !== 'object' || v === null) throw bad(name);
    if (typeof v.S === 'string') key[name] = v.S;
    else if (typeof v.N === 'string' && NUMBER.test(v.N)) key[name] = NumberValue.from(v.N);
    else if (typeof v.B === 'string') key[name] = new Uint8Array(Buffer.from(v.B, 'base64'));
    else throw bad(name);
  }
  return key;
}

/** A checkpoint file of type `T`, written atomically and not too often. */
export class CheckpointFile<T extends { command: string }> {
  private state: T | undefined;
  private dirty = false;
  private lastWrite = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly path: string,
    private readonly intervalMs = 250,
  ) {}

  /** The checkpoint left by an earlier run of `command`, or `undefined` when there is no file yet. */
  read(command: string, matches: (state: T) => string | undefined): T | undefined {
    if (!existsSync(this.path)) return undefined;
    let state: T;
    try {
      state = JSON.parse(readFileSync(this.path, 'utf8')) as T;
    } catch (error) {
      throw new CliError(`checkpoint ${this.path} is not valid JSON (${(error as Error).message}); remove it to start over`, EXIT.usage);
    }
    if (state.command !== command)
      throw new CliError(`checkpoint ${this.path} is for an ${state.command} job, not ${command}; use another --resume file`, EXIT.usage);
    const mismatch = matches(state);
    if (mismatch) throw new CliError(`checkpoint ${this.path} was made for ${mismatch}; use another --resume file`, EXIT.usage);
    return state;
  }

  /** The new state: written now if the last write is old enough, else soon. */
  update(state: T): void {
    this.state = state;
    this.dirty = true;
    const wait = this.lastWrite + this.intervalMs - Date.now();
    if (wait <= 0) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), wait).unref();
  }

  /** Writes the latest state, if it is not written yet. */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.dirty || !this.state) return;
    const temporary = `${this.path}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify({ ...this.state, updatedAt: new Date().toISOString() }, null, 2)}\n`);
    renameSync(temporary, this.path);
    this.dirty = false;
    this.lastWrite = Date.now();
  }
}

/** A span of input lines whose items (none, one, or one CSV record over several lines) settle together. */
export interface LineSpan {
  readonly line: number;
  readonly endLine: number;
  settled?: boolean;
}

/**
 * The input line up to which everything is settled. Spans are added in input order and settled in any order;
 * `line` moves only over a prefix of settled spans, so it never passes an item still in flight.
 */
export class SettledLines {
  private readonly queue: LineSpan[] = [];
  private head = 0;

  constructor(public line: number) {}

  add(span: LineSpan): void {
    this.queue.push(span);
  }

  /** Marks a span settled; returns whether `line` moved. */
  settle(span: LineSpan): boolean {
    span.settled = true;
    const before = this.line;
    while (this.head < this.queue.length && this.queue[this.head]!.settled) this.line = this.queue[this.head++]!.endLine;
    if (this.head > 4096) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return this.line !== before;
  }

  /** At the end of the input: with nothing in flight, every line read is settled (blank lines at the end too). */
  finish(lastLine: number): void {
    if (this.head === this.queue.length) this.line = Math.max(this.line, lastLine);
  }
}
