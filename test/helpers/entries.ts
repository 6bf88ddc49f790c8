import type { Entry, EntryState } from '../../src/internal/engine/entry.js';

/** A request of the tiny specs the engine tests use: a table, a key, and a label to tell requests apart. */
export interface Req {
  table?: string;
  key: string;
  label?: string;
  /** Bytes of its text in a call. @default 10 */
  bytes?: number;
  /** Refused when prepared (an InvalidRequestError). */
  bad?: boolean;
}

/** An engine entry made by hand: `id`, its key (`k` unless given), 10 bytes, 1 unit, queued, no attempts. */
export function entry(id: number, fields: Partial<Entry<Req>> & { key?: string } = {}): Entry<Req> {
  const key = fields.key ?? 'k';
  return {
    id,
    request: { key, label: `r${id}` },
    table: 'T',
    key,
    values: { pk: key },
    json: `{"pk":{"S":"${key}"},"n":{"N":"${id}"}}`,
    bytes: 10,
    units: 1,
    attempts: 0,
    readyAt: 0,
    state: 'queued' as EntryState,
    ...fields,
  };
}

/** The ids an entry answers for, merged ones first in the order they were merged, then its own. */
export const answersFor = (e: Entry<Req>) => [...(e.merged ?? []).map((t) => t.id), e.id];
