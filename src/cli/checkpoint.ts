/**
 * `--resume FILE`: a JSON checkpoint, replaced atomically (write to a temporary file, then rename) at most every
 * 250 ms as the job goes and once at the end, so a job killed at any moment leaves a whole checkpoint behind.
 * It only ever names work that is settled: written, or failed and in the dead-letter file. It names the tables it
 * belongs to (TableArn, CreationDateTime, TableId) so that it is never resumed into another table of the same name.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { TableDescription } from '@aws-sdk/client-dynamodb';
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

/** Which table a checkpoint's work was done in, from DescribeTable: a table made again under the same name differs. */
export interface TableIdentity {
  name: string;
  /** TableArn. The same for a table deleted and made again under the same name; CreationDateTime tells them apart. */
  arn: string;
  /** CreationDateTime, ISO 8601. */
  created: string;
  /** TableId, when DynamoDB gives one (AWS does; DynamoDB Local does not). */
  id?: string;
}

/** The tables of a job: `import` has a target, `export` a source, `copy` both, `delete` its table. */
export type TableRole = 'source' | 'target' | 'table';

/** DescribeTable's identity of a table. */
export function identityOf(description: TableDescription): TableIdentity {
  return {
    name: description.TableName ?? '',
    arn: description.TableArn ?? '',
    created: description.CreationDateTime ? new Date(description.CreationDateTime).toISOString() : '',
    ...(description.TableId ? { id: description.TableId } : {}),
  };
}

const sameTable = (a: TableIdentity, b: TableIdentity) =>
  a.name === b.name && a.arn === b.arn && a.created === b.created && (a.id === undefined || b.id === undefined || a.id === b.id);

const shown = (t: TableIdentity) => `${t.name} (${t.arn || 'no ARN'}, created ${t.created || 'at an unknown time'})`;

/** A checkpoint file of type `T`, written atomically and not too often. */
export class CheckpointFile<T extends { command: string }> {
  private state: T | undefined;
  private dirty = false;
  private lastWrite = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The tables the work was done in, by role: from the file when resuming, else as {@link bind} records them. */
  private tables: Partial<Record<TableRole, TableIdentity>> = {};
  /** When resuming a checkpoint written before checkpoints named their tables: its last write. */
  private unbound: { updatedAt?: string } | undefined;

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
    const { tables, updatedAt } = state as { tables?: Partial<Record<TableRole, TableIdentity>>; updatedAt?: string };
    if (tables && typeof tables === 'object') this.tables = { ...tables };
    else this.unbound = { ...(typeof updatedAt === 'string' ? { updatedAt } : {}) };
    return state;
  }

  /**
   * Ties the checkpoint to the table in `role`, as DescribeTable shows it now (`undefined`: the table does not
   * exist). A new checkpoint records it; a resumed one must have been made in this very table, else the job is
   * refused (exit 2): its progress was made in a table that is gone — dropped, perhaps made again under the same
   * name — and resuming would skip work that the table in front of us never got.
   *
   * A checkpoint from before checkpoints named their tables is refused when the table was created after the
   * checkpoint's last write (it was certainly made again since), and otherwise resumed with a warning, recording
   * the table from now on.
   */
  bind(role: TableRole, name: string, description: TableDescription | undefined): void {
    const recorded = this.tables[role];
    const refuse = (why: string) =>
      new CliError(
        `checkpoint ${this.path} was made for the ${role} table ${shown(recorded!)}, ${why}; its progress does not ` +
          `apply here: remove the checkpoint (or use another --resume file) to start over`,
        EXIT.usage,
      );
    if (!description) {
      if (recorded) throw refuse(`which no longer exists (${name} was not found)`);
      return; // nothing to tie to yet: a table --create-table is about to make
    }
    const now = identityOf(description);
    if (recorded) {
      if (recorded.name !== now.name) throw refuse(`but this run's ${role} table is ${name}`);
      if (!sameTable(recorded, now)) throw refuse(`but ${name} now is ${shown(now)}: another table under the same name`);
      return;
    }
    if (this.unbound) {
      const written = this.unbound.updatedAt ? Date.parse(this.unbound.updatedAt) : NaN;
      if (now.created && Number.isFinite(written) && Date.parse(now.created) > written)
        throw new CliError(
          `checkpoint ${this.path} was last written at ${this.unbound.updatedAt}, but the ${role} table ${shown(now)} was ` +
            `created after that: its progress was made in another table of that name; remove the checkpoint (or use another ` +
            `--resume file) to start over`,
          EXIT.usage,
        );
      process.stderr.write(
        `warning: checkpoint ${this.path} does not say which ${role} table it was made in (it is older than that); resuming ` +
          `into ${shown(now)}, which existed when it was last written${this.unbound.updatedAt ? ` (${this.unbound.updatedAt})` : ''}\n`,
      );
    }
    this.tables[role] = now;
    if (this.state) this.dirty = true;
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
    const state = { ...this.state, tables: this.tables, updatedAt: new Date().toISOString() };
    writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`);
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
