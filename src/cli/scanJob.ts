/**
 * The scanning side of `export`, `copy`, `delete` and `count`: one `dynamoScanPages` per segment (Scan's `Segment` /
 * `TotalSegments` when there are several), each from its checkpointed `LastEvaluatedKey`, and a tracker that moves a
 * segment's checkpoint past a page only once every item of that page, and of every page before it, is settled.
 */
import { from, map, mergeMap, type Observable } from 'rxjs';
import {
  type Backpressure,
  capacity,
  type CapacityBudget,
  type DynamoDBSender,
  dynamoQueryPages,
  dynamoScanPages,
  type Item,
  type Key,
  type Page,
  type QueryInput,
  type ScanInput,
} from '../index.js';
import { CheckpointFile, loadKey, type StoredKey, storeKey } from './checkpoint.js';
import type { ScanOptions } from './options.js';
import { CliError, EXIT } from './session.js';

/** Where a segment stands: the key to start from (absent: the beginning), or done. */
export interface SegmentState {
  startKey?: StoredKey;
  done: boolean;
}

/** The checkpoint of a scan-based job. */
export interface ScanCheckpoint {
  command: string;
  table: string;
  totalSegments: number;
  segments: SegmentState[];
  complete: boolean;
}

/** A page of a segment, and how many of its items are not settled yet. */
export interface SegmentPage {
  readonly segment: number;
  readonly page: Page;
  remaining: number;
}

/** The Scan input of `--filter`, `--values`, `--names`, `--page-size`, with more (a projection) when asked. */
export function scanInput(table: string, options: ScanOptions, extra: Partial<ScanInput> = {}): ScanInput {
  const names = { ...options.names, ...extra.ExpressionAttributeNames };
  return {
    TableName: table,
    ...extra,
    ...(options.pageSize ? { Limit: options.pageSize } : {}),
    ...(options.filter ? { FilterExpression: options.filter } : {}),
    ...(options.values ? { ExpressionAttributeValues: options.values } : {}),
    ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
  };
}

/** The key attributes of a scanned item (the scan projects them alone, but a dry run reads whole items). */
export const keyOfItem = (item: Item, names: string[]): Key => Object.fromEntries(names.map((n) => [n, item[n]]));

/** `ProjectionExpression` of the key attributes, through names that cannot clash with `--names`. */
export function keyProjection(names: string[]): Pick<ScanInput, 'ProjectionExpression' | 'ExpressionAttributeNames'> {
  const placeholders = names.map((_, i) => `#rxjsDynamodbKey${i}`);
  return {
    ProjectionExpression: placeholders.join(', '),
    ExpressionAttributeNames: Object.fromEntries(placeholders.map((p, i) => [p, names[i]!])),
  };
}

/** The checkpoint to start from (`--resume` file, or a new one) and the file to keep it in. */
export function openScanCheckpoint(
  command: string,
  table: string,
  options: { resume?: string; segments?: number },
): { state: ScanCheckpoint; file?: CheckpointFile<ScanCheckpoint> } {
  const file = options.resume ? new CheckpointFile<ScanCheckpoint>(options.resume) : undefined;
  const found = file?.read(command, (s) => (s.table !== table ? `table ${s.table}` : undefined));
  if (found) {
    if (options.segments !== undefined && options.segments !== found.totalSegments)
      throw new CliError(
        `checkpoint ${file!.path} was made with --segments ${found.totalSegments}; pass that, or leave --segments out`,
        EXIT.usage,
      );
    return { state: found, file };
  }
  const totalSegments = options.segments ?? 1;
  const segments = Array.from({ length: totalSegments }, () => ({ done: false }));
  return { state: { command, table, totalSegments, segments, complete: false }, file };
}

/**
 * The pages of every segment not done yet, each from where its checkpoint left it, segments side by side. An input
 * with a `KeyConditionExpression` is a Query instead (one segment).
 */
export function scanSegments(
  client: DynamoDBSender,
  input: ScanInput | QueryInput,
  state: ScanCheckpoint,
  options: { backpressure?: Backpressure; unitsPerSecond?: number; capacity?: CapacityBudget } = {},
): Observable<SegmentPage> {
  // a budget given (shared with other processes, say) takes the place of one of `unitsPerSecond` made here
  const budget = options.capacity ?? (options.unitsPerSecond ? capacity({ unitsPerSecond: options.unitsPerSecond }) : undefined);
  const { totalSegments } = state;
  const todo = state.segments.flatMap((s, i) => (s.done ? [] : [i]));
  return from(todo).pipe(
    mergeMap((segment) => {
      const { startKey } = state.segments[segment]!;
      const segmentInput = totalSegments > 1 ? { ...input, Segment: segment, TotalSegments: totalSegments } : input;
      const paging = {
        ...(startKey ? { startKey: loadKey(startKey, `the checkpoint of segment ${segment}`) } : {}),
        ...(options.backpressure ? { backpressure: options.backpressure } : {}),
        ...(budget ? { capacity: budget } : {}),
      };
      const pages =
        'KeyConditionExpression' in input ? dynamoQueryPages(client, input, paging) : dynamoScanPages(client, segmentInput, paging);
      return pages.pipe(map((page): SegmentPage => ({ segment, page, remaining: page.items.length })));
    }),
  );
}

/** Moves each segment's checkpoint over its pages as they are settled, in page order. */
export class PageTracker {
  private readonly queues = new Map<number, SegmentPage[]>();

  constructor(
    private readonly state: ScanCheckpoint,
    private readonly onChange: (state: ScanCheckpoint) => void = () => undefined,
  ) {}

  /** A page as it comes: settled at once when it has no items. */
  add(page: SegmentPage): SegmentPage {
    const queue = this.queues.get(page.segment) ?? [];
    this.queues.set(page.segment, queue);
    queue.push(page);
    if (page.remaining === 0) this.advance(page.segment);
    return page;
  }

  /** `count` items of the page are settled (written, failed and dead-lettered, or dropped). */
  settle(page: SegmentPage, count = 1): void {
    page.remaining -= count;
    if (page.remaining <= 0) this.advance(page.segment);
  }

  private advance(segment: number): void {
    const queue = this.queues.get(segment)!;
    let key: Key | undefined | null = null;
    while (queue.length > 0 && queue[0]!.remaining <= 0) key = queue.shift()!.page.lastEvaluatedKey;
    if (key === null) return;
    this.state.segments[segment] = key ? { startKey: storeKey(key), done: false } : { done: true };
    this.state.complete = this.state.segments.every((s) => s.done);
    this.onChange(this.state);
  }
}
