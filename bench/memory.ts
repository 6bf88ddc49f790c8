/**
 * The memory bench of issue 3: copying items from a source to a writer 5x slower than it (in-process fakes,
 * bench/copyFake.ts), peak RSS with and without the backpressure link. The job:
 *
 *   scan(fake, { TableName: 'Source' }, { backpressure: link })
 *     .pipe(dynamoBatchWrite(fake, 'Target', { backpressure: link, keyAttributes: ['pk'], concurrency: 8 }))
 *
 * with `link = backpressure({ highWaterMark: 10_000 })`; without the link, the same without the `backpressure` options.
 * Each job runs alone in its own child process (bench/memoryChild.ts; peak RSS is per process), one after the other:
 * with the link at 100,000 and at 1,000,000 items, without it at 1,000,000.
 * Targets: with the link, peak RSS at 1,000,000 items under 250 MB and within 1.3x of the same job at 100,000.
 *
 * `npx tsx bench/memory.ts` runs it alone and stores the results as `memory` in bench/out/latest.json (read, modify,
 * write); `npm run bench` runs it after the throughput scenarios and writes them into the same file.
 * Environment: BENCH_SCALE (multiplies both item counts, default 1).
 * Exits non-zero only if the bench itself fails; missed targets are printed as MISS.
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  HIGH_WATER_MARK,
  PAGE_ITEMS,
  SCAN_DELAY_MS,
  SOURCE_ITEMS_PER_SEC,
  WRITE_BATCH_ITEMS,
  WRITE_CONCURRENCY,
  WRITE_DELAY_MS,
  WRITER_ITEMS_PER_SEC,
} from './copyFake.js';
import type { ChildResult } from './memoryChild.js';
import { envNumber, formatTable, saveToLatest } from './support.js';

const ITEMS_LARGE = 1_000_000;
const ITEMS_SMALL = 100_000;
const TARGET_RSS_MB = 250;
const TARGET_RATIO = 1.3;

/** One job as the parent saw it: the child's line, or why there was none. */
export type MemoryJob = ChildResult | { items: number; link: boolean; error: string };

export interface MemoryTarget {
  label: string;
  value?: number;
  pass: boolean;
}

export interface MemoryBench {
  date: string;
  node: string;
  scale: number;
  pageItems: number;
  scanDelayMs: number;
  writeDelayMs: number;
  writeBatchItems: number;
  concurrency: number;
  highWaterMark: number;
  sourceItemsPerSec: number;
  writerItemsPerSec: number;
  jobs: MemoryJob[];
  targets: { rss: MemoryTarget; ratio: MemoryTarget };
}

const isResult = (job: MemoryJob): job is ChildResult => 'peakRssMB' in job;
const fmt = (n: number) => n.toLocaleString('en-US');

/** Runs one job in a child process and parses its JSON line; a crash (out of memory, say) becomes an error. */
function runChild(items: number, link: boolean): Promise<MemoryJob> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const child = fileURLToPath(new URL('./memoryChild.ts', import.meta.url));
  return new Promise((done) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child, `${items}`, link ? 'link' : 'nolink'], {
      cwd: root, // where `--import tsx` resolves
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    proc.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      process.stderr.write(chunk);
    });
    proc.on('error', (error) => done({ items, link, error: `spawn failed: ${error.message}` }));
    proc.on('close', (code, signal) => {
      const line = stdout.trim().split('\n').at(-1) ?? '';
      try {
        done(JSON.parse(line) as ChildResult);
      } catch {
        const tail = stderr.trim().split('\n').slice(-3).join(' | ');
        done({ items, link, error: `child exited with ${signal ?? `code ${code}`} and no result${tail ? `: ${tail}` : ''}` });
      }
    });
  });
}

/** The three jobs, one after the other, each in its own process. */
export async function runMemoryBench(options: { scale?: number } = {}): Promise<MemoryBench> {
  const scale = options.scale ?? envNumber('BENCH_SCALE', 1);
  const small = Math.max(1, Math.round(ITEMS_SMALL * scale));
  const large = Math.max(1, Math.round(ITEMS_LARGE * scale));
  const jobs: MemoryJob[] = [];
  for (const [items, link] of [
    [small, true],
    [large, true],
    [large, false],
  ] as const) {
    process.stderr.write(`  memory: ${fmt(items)} items, ${link ? 'with' : 'without'} the link ...\n`);
    const job = await runChild(items, link);
    jobs.push(job);
    process.stderr.write(
      isResult(job)
        ? `  memory: ${fmt(items)} items in ${(job.ms / 1000).toFixed(2)} s, peak RSS ${job.peakRssMB.toFixed(1)} MB, ${fmt(job.written)} written${job.error ? `, ERROR ${job.error}` : ''}\n`
        : `  memory: ERROR ${job.error}\n`,
    );
  }

  const [smallLink, largeLink] = jobs;
  const ok = (job: MemoryJob | undefined): job is ChildResult =>
    job !== undefined && isResult(job) && job.error === undefined && job.written === job.items && job.received === job.items;
  const rss = ok(largeLink) ? largeLink.peakRssMB : undefined;
  const ratio = ok(largeLink) && ok(smallLink) ? largeLink.peakRssMB / smallLink.peakRssMB : undefined;
  return {
    date: new Date().toISOString(),
    node: process.version,
    scale,
    pageItems: PAGE_ITEMS,
    scanDelayMs: SCAN_DELAY_MS,
    writeDelayMs: WRITE_DELAY_MS,
    writeBatchItems: WRITE_BATCH_ITEMS,
    concurrency: WRITE_CONCURRENCY,
    highWaterMark: HIGH_WATER_MARK,
    sourceItemsPerSec: SOURCE_ITEMS_PER_SEC,
    writerItemsPerSec: WRITER_ITEMS_PER_SEC,
    jobs,
    targets: {
      rss: {
        label: `with the link at ${fmt(large)} items: peak RSS < ${TARGET_RSS_MB} MB`,
        ...(rss === undefined ? {} : { value: rss }),
        pass: rss !== undefined && rss < TARGET_RSS_MB,
      },
      ratio: {
        label: `with the link: peak RSS at ${fmt(large)} / at ${fmt(small)} items <= ${TARGET_RATIO}`,
        ...(ratio === undefined ? {} : { value: ratio }),
        pass: ratio !== undefined && ratio <= TARGET_RATIO,
      },
    },
  };
}

/** The printed form: a header with both rates, the aligned table, and the two target checks. */
export function formatMemoryBench(bench: MemoryBench): string {
  const header = [
    `memory bench (issue 3): scan -> dynamoBatchWrite, in-process fakes, each job in its own process; node ${bench.node}, BENCH_SCALE=${bench.scale}`,
    `  source: ${fmt(bench.pageItems)} items per ${bench.scanDelayMs} ms page = ${fmt(bench.sourceItemsPerSec)} items/s; ` +
      `writer: ${bench.writeBatchItems} items per ${bench.writeDelayMs} ms call x ${bench.concurrency} in flight = ${fmt(bench.writerItemsPerSec)} items/s ` +
      `(${(bench.sourceItemsPerSec / bench.writerItemsPerSec).toFixed(1)}x slower); link highWaterMark ${fmt(bench.highWaterMark)}`,
  ];
  const rows: string[][] = [
    ['items', 'link', 'peak RSS MB', 'start RSS MB', 'peak heap MB', 'wall s', 'items/s', 'source s', 'max backlog', 'written', 'check'],
  ];
  for (const job of bench.jobs) {
    if (!isResult(job)) {
      rows.push([`${job.items}`, job.link ? 'yes' : 'no', '', '', '', '', '', '', '', '', `ERROR ${job.error}`]);
      continue;
    }
    const good = job.error === undefined && job.written === job.items && job.received === job.items;
    rows.push([
      `${job.items}`,
      job.link ? 'yes' : 'no',
      job.peakRssMB.toFixed(1),
      job.startRssMB.toFixed(1),
      job.peakHeapMB.toFixed(1),
      (job.ms / 1000).toFixed(2),
      ((job.written * 1000) / job.ms).toFixed(0),
      job.sourceMs === undefined ? '' : (job.sourceMs / 1000).toFixed(2),
      `${job.maxBacklog}`,
      `${job.written}`,
      good ? 'ok (= items)' : `MISMATCH (received ${job.received})${job.error ? ` ERROR ${job.error}` : ''}`,
    ]);
  }
  const target = (t: MemoryTarget, digits: number, unit: string) =>
    `target: ${t.label}: ${t.value === undefined ? 'n/a' : `${t.value.toFixed(digits)}${unit}`} ${t.pass ? 'PASS' : 'MISS'}`;
  const notes = [
    'peak RSS = process.resourceUsage().maxRSS at the end of the job; start RSS = before it (node, tsx, SDK, library);',
    'source s = until the last page was answered; max backlog = items read and not yet written, sampled every 50 ms.',
  ];
  return [...header, formatTable(rows), ...notes, target(bench.targets.rss, 1, ' MB'), target(bench.targets.ratio, 3, '')].join('\n');
}

async function main(): Promise<void> {
  const bench = await runMemoryBench();
  process.stdout.write(`${formatMemoryBench(bench)}\n`);
  const path = await saveToLatest('memory', bench);
  process.stderr.write(`memory results written to ${path} (key "memory")
`);
}

// Run alone (`npx tsx bench/memory.ts`), not when bench/index.ts imports it.
if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error('memory bench failed:', error);
    process.exitCode = 1;
  });
}
