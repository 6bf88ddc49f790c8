/**
 * One job of the memory bench, alone in its process (peak RSS is per process), spawned by bench/memory.ts as
 * `node --import tsx bench/memoryChild.ts <items> <link|nolink>`: copies `<items>` items from the fake source to the
 * 5x slower fake writer (bench/copyFake.ts), with or without a backpressure link, then prints one JSON line
 * ({@link ChildResult}) on stdout. Exits 0 even when the job errors (the error is in the line); non-zero only on a
 * bad command line.
 */
import { performance } from 'node:perf_hooks';
import { lastValueFrom, reduce } from 'rxjs';
import { backpressure, dynamoBatchWrite, dynamoScan } from '../src/index.js';
import { copyFake, HIGH_WATER_MARK, WRITE_CONCURRENCY } from './copyFake.js';

const SAMPLE_MS = 50;
const MB = 1024 * 1024;

export interface ChildResult {
  items: number;
  link: boolean;
  /** Items acknowledged as written: the sum of `result.requests.length`. */
  written: number;
  /** Put requests the fake received. */
  received: number;
  calls: number;
  /** From subscribe to completion. */
  ms: number;
  /** From subscribe to the last page answered. */
  sourceMs?: number;
  /** `process.resourceUsage().maxRSS` at the end, in MB: the reported peak. */
  peakRssMB: number;
  /** The largest `process.memoryUsage().rss` sampled every 50 ms during the job. */
  sampledPeakRssMB: number;
  /** RSS just before the job (runtime, tsx, the SDK and the library loaded). */
  startRssMB: number;
  /** The largest `heapUsed` sampled. */
  peakHeapMB: number;
  /** The largest number of items read from the source and not yet written, sampled. */
  maxBacklog: number;
  error?: string;
}

async function main(): Promise<void> {
  const [itemsArg, linkArg] = process.argv.slice(2);
  const items = Number(itemsArg);
  if (!(Number.isInteger(items) && items >= 1) || (linkArg !== 'link' && linkArg !== 'nolink'))
    throw new Error(`usage: memoryChild.ts <items> <link|nolink>, got ${JSON.stringify(process.argv.slice(2))}`);
  const withLink = linkArg === 'link';

  const fake = copyFake(items);
  const link = withLink ? backpressure({ highWaterMark: HIGH_WATER_MARK }) : undefined;
  const startRss = process.memoryUsage().rss;
  let sampledPeakRss = startRss;
  let peakHeap = 0;
  let maxBacklog = 0;
  const sample = () => {
    const { rss, heapUsed } = process.memoryUsage();
    sampledPeakRss = Math.max(sampledPeakRss, rss);
    peakHeap = Math.max(peakHeap, heapUsed);
    maxBacklog = Math.max(maxBacklog, fake.itemsRead - fake.requests);
  };
  const sampler = setInterval(sample, SAMPLE_MS);

  let written = 0;
  let error: string | undefined;
  const t0 = performance.now();
  try {
    written = await lastValueFrom(
      dynamoScan(fake, { TableName: 'Source' }, { backpressure: link }).pipe(
        dynamoBatchWrite(fake, 'Target', { backpressure: link, keyAttributes: ['pk'], concurrency: WRITE_CONCURRENCY }),
        reduce((sum, result) => sum + result.requests.length, 0),
      ),
    );
  } catch (failure) {
    error = `${(failure as Error)?.name}: ${(failure as Error)?.message}`;
  }
  const ms = performance.now() - t0;
  sample();
  clearInterval(sampler);

  const result: ChildResult = {
    items,
    link: withLink,
    written,
    received: fake.requests,
    calls: fake.calls,
    ms,
    ...(fake.lastPageAt === undefined ? {} : { sourceMs: fake.lastPageAt - t0 }),
    peakRssMB: process.resourceUsage().maxRSS / 1024, // maxRSS is in KB
    sampledPeakRssMB: sampledPeakRss / MB,
    startRssMB: startRss / MB,
    peakHeapMB: peakHeap / MB,
    maxBacklog,
    ...(error === undefined ? {} : { error }),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error: unknown) => {
  console.error('memory bench child failed:', error);
  process.exitCode = 1;
});
