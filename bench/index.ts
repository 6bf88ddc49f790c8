/**
 * `npm run bench` (builds first, then runs against the built package, as users do): every benchmark of the project in
 * one run, printed as aligned tables and stored in bench/out/latest.json.
 *
 * 1. The engine (issue 9, bench/engine.ts): `dynamoBatchWrite` / `dynamoBatchGet` against the promise pool a user
 *    writes with a `DynamoDBDocumentClient`, both on one SDK client whose HTTP handler answers in-process after
 *    5 ms; concurrency 4, 8 and 16 for writes, 8 and 16 for reads; 100,000 items; items/s, CPU µs per item and calls
 *    in flight, medians over alternating rounds.
 * 1b. Updates (issue 12, bench/updates.ts): `dynamoUpdate` against a promise pool of `UpdateCommand`s on the same
 *    responder, concurrency 8 and 16, 20,000 updates; updates/s and CPU µs per update, medians over alternating rounds.
 * 2. DynamoDB Local (bench/local.ts): the same two writers at concurrency 8, alternating, min-max of the ratio.
 * 3. Throughput control (bench/throughput.ts), on the same DynamoDB Local.
 * 4. Memory (bench/memory.ts): peak RSS of a scan -> write copy, each job in its own process, after Local stopped.
 *
 * Environment: BENCH_SCALE (multiplies item counts, default 1), BENCH_ROUNDS (rounds per engine setting, default 5).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { performance } from 'node:perf_hooks';
import { startDynamoLocal } from '../test/helpers/dynamoLocal.js';
import { formatEngineBench, runEngineBench } from './engine.js';
import { formatLocalBench, runLocalBench } from './local.js';
import { formatMemoryBench, runMemoryBench } from './memory.js';
import { envNumber, procPeakRssMB } from './support.js';
import { formatScaleOutBench, runScaleOutBench } from './scaleOut.js';
import { formatThroughputBench, runThroughputBench } from './throughput.js';
import { formatUpdateBench, runUpdateBench } from './updates.js';

const SCALE = envNumber('BENCH_SCALE', 1);
const ROUNDS = Math.round(envNumber('BENCH_ROUNDS', 5));

async function main(): Promise<void> {
  const started = performance.now();
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  process.stderr.write(`engine bench: ${ROUNDS} rounds per setting, scale ${SCALE}\n`);
  const engine = await runEngineBench({ scale: SCALE, rounds: ROUNDS });
  const updates = await runUpdateBench({ scale: SCALE, rounds: ROUNDS });

  const local = await startDynamoLocal();
  const onSignal = (signal: NodeJS.Signals) => void local.stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let javaPeakRssMB: number | undefined;
  let localBench;
  let throughputControl;
  let scaleOut;
  try {
    localBench = await runLocalBench(local.endpoint, { items: Math.round(20_000 * SCALE) });
    throughputControl = await runThroughputBench({ endpoint: local.endpoint, scale: SCALE });
    scaleOut = await runScaleOutBench(local.endpoint, { items: Math.round(60_000 * SCALE) });
  } finally {
    javaPeakRssMB = procPeakRssMB(local.pid);
    await local.stop();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  const memory = await runMemoryBench({ scale: SCALE }); // after Local has stopped: its children have the CPUs to themselves

  const wallSeconds = (performance.now() - started) / 1000;
  const header = `rxjs-dynamodb bench: node ${process.version}, ${cpus().length} CPUs, BENCH_SCALE=${SCALE}, ${ROUNDS} rounds per engine setting`;
  process.stdout.write(
    [
      header,
      formatEngineBench(engine),
      formatUpdateBench(updates),
      formatLocalBench(localBench),
      formatThroughputBench(throughputControl),
      formatScaleOutBench(scaleOut),
      formatMemoryBench(memory),
      `peak RSS (DynamoDB Local): ${javaPeakRssMB?.toFixed(1) ?? '?'} MB; wall time ${wallSeconds.toFixed(1)} s`,
    ].join('\n\n') + '\n',
  );
  const out = new URL('./out/', import.meta.url);
  await mkdir(out, { recursive: true });
  const json = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    scale: SCALE,
    rounds: ROUNDS,
    engine,
    updates,
    local: localBench,
    throughputControl,
    scaleOut,
    memory,
    javaPeakRssMB,
    wallSeconds,
  };
  await writeFile(new URL('latest.json', out), `${JSON.stringify(json, null, 2)}\n`);
}

main().catch((error: unknown) => {
  console.error('bench failed:', error);
  process.exitCode = 1;
});
