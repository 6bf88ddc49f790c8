import { lastValueFrom, type Observable, toArray } from 'rxjs';
import type { BatchWriteResult } from '../../src/index.js';

/** Every result of a write stream, once it completes. */
export const run = (results$: Observable<BatchWriteResult>) => lastValueFrom(results$.pipe(toArray()));
/** Orders items by `pk`, then a numeric `sk`. */
export const byKey = (a: Record<string, unknown>, b: Record<string, unknown>) =>
  String(a.pk).localeCompare(String(b.pk)) || Number(a.sk ?? 0) - Number(b.sk ?? 0);
export const sorted = <T extends Record<string, unknown>>(items: T[]) => [...items].sort(byKey);
/** Requests written, over all results. */
export const total = (results: BatchWriteResult[]) => results.reduce((sum, r) => sum + r.requests.length, 0);
