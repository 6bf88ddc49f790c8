/**
 * The plain decisions of the DynamoDB Streams source (`src/sources/streamInternals.ts`): which shards exist, which
 * may be read now (a child only once its parent is read to its end, so that the changes of one key come out in
 * order across a split), where each one starts (after its checkpointed sequence number, at `TRIM_HORIZON`, or at
 * `LATEST`), and the checkpoint — plain JSON — after each batch handed on. No I/O, no time: tested with tables.
 */

/** Where the reading of one shard stands in a {@link StreamCheckpoint}. */
export interface ShardPosition {
  /** The sequence number of the last record handed on from this shard; absent: none yet. */
  sequenceNumber?: string;
  /** The shard is closed and every record of it was handed on. */
  done?: boolean;
  /** The shard it was split from, when it has one: a restarted reader reads it first. */
  parent?: string;
  /**
   * A shard read from `LATEST` with no record handed on yet: when its reading began (ISO time). A restarted reader
   * reads it from its start and skips what is older than a minute before that (DynamoDB stamps records to the
   * second, DynamoDB Local to the minute), so what came while the reader was down is not lost.
   */
  since?: string;
}

/**
 * How far a Streams source got, as plain JSON: save it (after handling the batch it came with) and pass it as the
 * `checkpoint` option to go on after the last record handed on, neither losing nor repeating one.
 */
export interface StreamCheckpoint {
  /** Format version. */
  version: 1;
  /** The stream it belongs to: a checkpoint of another stream (the table's stream was disabled and enabled again) is refused. */
  streamArn: string;
  /** Each shard read (or being read), by shard id. Shards that DynamoDB no longer lists are dropped once done. */
  shards: Record<string, ShardPosition>;
}

/** A shard as DescribeStream lists it. */
export interface ShardListing {
  shardId: string;
  parentShardId?: string;
  /** Present when the shard is closed (it takes no more records). */
  endingSequenceNumber?: string;
}

/** How to ask for a shard's iterator; `notBefore` (ms): records older than that are skipped, not handed on. */
export type IteratorStart =
  { type: 'AFTER_SEQUENCE_NUMBER'; sequenceNumber: string } | { type: 'TRIM_HORIZON'; notBefore?: number } | { type: 'LATEST' };

/** The precision margin of `since`: records are stamped to the second (DynamoDB Local: the minute). */
export const SINCE_MARGIN_MS = 60_000;

/** A shard that a checkpoint was reading and DynamoDB no longer lists: what came after its position is lost. */
export interface LostShard {
  shardId: string;
  sequenceNumber?: string;
}

/** Where a source starts when no checkpoint says otherwise. */
export type StreamStart = 'TRIM_HORIZON' | 'LATEST';

/** Thrown by a checkpoint that cannot be used: a TypeError naming what is wrong. */
export function checkCheckpoint(checkpoint: unknown): StreamCheckpoint {
  const c = checkpoint as Partial<StreamCheckpoint> | null;
  const bad = (why: string) => new TypeError(`checkpoint is not a stream checkpoint: ${why}`);
  if (typeof c !== 'object' || c === null) throw bad(`got ${typeof checkpoint}`);
  if (c.version !== 1) throw bad(`version must be 1, got ${JSON.stringify(c.version)}`);
  if (typeof c.streamArn !== 'string' || c.streamArn === '') throw bad('streamArn must be a non-empty string');
  if (typeof c.shards !== 'object' || c.shards === null || Array.isArray(c.shards)) throw bad('shards must be an object');
  for (const [id, p] of Object.entries(c.shards)) {
    if (typeof p !== 'object' || p === null) throw bad(`shard ${id} must be an object`);
    if (p.sequenceNumber !== undefined && (typeof p.sequenceNumber !== 'string' || !/^\d+$/.test(p.sequenceNumber)))
      throw bad(`shard ${id}: sequenceNumber must be digits`);
    if (p.done !== undefined && typeof p.done !== 'boolean') throw bad(`shard ${id}: done must be a boolean`);
    if (p.parent !== undefined && typeof p.parent !== 'string') throw bad(`shard ${id}: parent must be a string`);
    if (p.since !== undefined && (typeof p.since !== 'string' || !ISO_TIME.test(p.since) || Number.isNaN(Date.parse(p.since))))
      throw bad(`shard ${id}: since must be an ISO time`);
  }
  return c as StreamCheckpoint;
}

/** An ISO 8601 time with its zone (`Z` or an offset), as `Date.prototype.toISOString` writes: never read as local time. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** Compares two sequence numbers (digit strings of any length) as numbers. */
export function compareSequenceNumbers(a: string, b: string): number {
  const x = a.replace(/^0+(?=\d)/, '');
  const y = b.replace(/^0+(?=\d)/, '');
  return x.length !== y.length ? x.length - y.length : x < y ? -1 : x > y ? 1 : 0;
}

/** The shards of one stream and where the reading of each stands. */
export class ShardBook {
  private readonly positions = new Map<string, ShardPosition>();
  private readonly listed = new Map<string, ShardListing>();
  private readonly started = new Set<string>();
  /** Shards listed by the first DescribeStream: with `start: 'LATEST'` and no checkpoint, they start at LATEST. */
  private firstListing: Set<string> | undefined;
  private readonly resumed: boolean;

  constructor(
    readonly streamArn: string,
    private readonly start: StreamStart,
    checkpoint?: StreamCheckpoint,
  ) {
    this.resumed = checkpoint !== undefined;
    if (checkpoint) {
      if (checkpoint.streamArn !== streamArn)
        throw new TypeError(
          `checkpoint is of stream ${checkpoint.streamArn}, not of ${streamArn} (was the table's stream disabled and enabled again? then start afresh)`,
        );
      for (const [id, p] of Object.entries(checkpoint.shards)) this.positions.set(id, { ...p });
    }
  }

  /** Shards a checkpoint was reading that DynamoDB no longer lists, found by the last {@link list}. */
  lost: LostShard[] = [];

  /** Takes in a DescribeStream listing (all its pages); returns the shards that may start now, parents first. */
  list(shards: ShardListing[]): string[] {
    const first = this.firstListing === undefined;
    if (first) this.firstListing = new Set(shards.map((s) => s.shardId));
    for (const s of shards) {
      this.listed.set(s.shardId, s);
      const p = this.positions.get(s.shardId);
      if (s.parentShardId !== undefined && p && p.parent === undefined) p.parent = s.parentShardId;
      // with LATEST, shards already closed when the reader starts hold only what came before it
      if (first && !this.resumed && this.start === 'LATEST' && s.endingSequenceNumber !== undefined)
        this.positions.set(s.shardId, { done: true, ...(s.parentShardId ? { parent: s.parentShardId } : {}) });
    }
    // forget shards this listing no longer holds first, so that the pruning below sees this listing, not the last one
    const now = new Set(shards.map((s) => s.shardId));
    for (const id of [...this.listed.keys()]) if (!now.has(id)) this.listed.delete(id);
    // a shard DynamoDB no longer lists was trimmed (after 24 hours): a done one need not be kept; one not read to
    // its end lost what came after its position (said through `lost`), and is done with
    this.lost = [];
    for (const [id, p] of [...this.positions]) {
      if (this.listed.has(id) || this.started.has(id)) continue;
      if (!p.done) this.lost.push({ shardId: id, ...(p.sequenceNumber ? { sequenceNumber: p.sequenceNumber } : {}) });
      this.positions.delete(id);
    }
    return this.startable();
  }

  /** Listed shards not started, not done, whose parent is done or gone. */
  startable(): string[] {
    const out: string[] = [];
    for (const s of this.listed.values()) {
      if (this.started.has(s.shardId) || this.positions.get(s.shardId)?.done) continue;
      if (this.parentPending(s.parentShardId)) continue;
      out.push(s.shardId);
    }
    return out;
  }

  private parentPending(parent: string | undefined): boolean {
    if (parent === undefined) return false;
    // a parent DynamoDB no longer lists was trimmed: nothing of it can be read any more
    if (!this.listed.has(parent)) return false;
    return !this.positions.get(parent)?.done;
  }

  /** Marks `shardId` as being read (at `now`, ms), and says where to start it. */
  begin(shardId: string, now = Date.now()): IteratorStart {
    this.started.add(shardId);
    const at = this.resumeAt(shardId);
    // remembered, so that a checkpoint taken before its first record still says where this shard's reading began
    if (at.type === 'LATEST') this.position(shardId).since = new Date(now).toISOString();
    return at;
  }

  /** Whether DynamoDB lists `shardId` as closed (it takes no more records: an empty answer is not idleness). */
  isClosed(shardId: string): boolean {
    return this.listed.get(shardId)?.endingSequenceNumber !== undefined;
  }

  /** Where to (re)start reading `shardId`: after its last record handed on, else where the source starts. */
  resumeAt(shardId: string): IteratorStart {
    const p = this.positions.get(shardId);
    if (p?.sequenceNumber !== undefined) return { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: p.sequenceNumber };
    if (p?.since !== undefined) return { type: 'TRIM_HORIZON', notBefore: Date.parse(p.since) - SINCE_MARGIN_MS };
    // a shard that appeared after the reader started (a split's child) holds only new records: read it all
    // (and after a checkpoint, a shard it does not know came after it: LATEST would skip what it got since)
    const fromNow = this.start === 'LATEST' && !this.resumed && this.firstListing?.has(shardId) === true;
    return fromNow ? { type: 'LATEST' } : { type: 'TRIM_HORIZON' };
  }

  /** Records of `shardId` up to `sequenceNumber` were handed on. */
  advance(shardId: string, sequenceNumber: string): void {
    const p = this.position(shardId);
    p.sequenceNumber = sequenceNumber;
    delete p.since;
  }

  /** `shardId` was read to its end (its iterator ran out), or it is gone: its children may start. */
  finish(shardId: string): void {
    this.position(shardId).done = true;
    this.started.delete(shardId);
  }

  /** Whether `shardId` was read to its end. */
  isDone(shardId: string): boolean {
    return this.positions.get(shardId)?.done === true;
  }

  private position(shardId: string): ShardPosition {
    let p = this.positions.get(shardId);
    if (!p) {
      const parent = this.listed.get(shardId)?.parentShardId;
      p = parent !== undefined ? { parent } : {};
      this.positions.set(shardId, p);
    }
    return p;
  }

  /** The checkpoint now, as plain JSON (a copy). */
  checkpoint(): StreamCheckpoint {
    const shards: Record<string, ShardPosition> = {};
    for (const [id, p] of this.positions) shards[id] = { ...p };
    return { version: 1, streamArn: this.streamArn, shards };
  }
}
