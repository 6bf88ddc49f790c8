import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { asyncScheduler, firstValueFrom } from 'rxjs';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { capacity, CapacityStoreError, redisCapacityStore } from 'rxjs-dynamodb';
import { Gcra } from '../../src/capacity.js';
import { capacityScriptRunner, IDLE_MS } from '../../src/internal/capacityScript.js';
import type { WorkerPlan } from '../fixtures/capacityWorker.js';

const redisUrl = inject('redisUrl');
const redis = new Redis(redisUrl);
afterAll(() => redis.quit());

const worker = fileURLToPath(new URL('../fixtures/capacityWorker.ts', import.meta.url));
const use = {
  client: { send: () => Promise.reject(new Error('no calls')) },
  table: 'T',
  kind: 'write' as const,
  scheduler: asyncScheduler,
};

interface Worker {
  /** Once it is connected to Redis. */
  ready: Promise<void>;
  /** Once it has charged its fine (throttle mode). */
  fined: Promise<void>;
  /** The epoch ms of its spends, once it has exited. */
  spends: Promise<number[]>;
  /** Starts it: its plan's times count from `t0`. */
  go(t0: number): void;
}

/** Starts one worker process (test/fixtures/capacityWorker.ts). */
function startWorker(plan: WorkerPlan): Worker {
  const child = spawn(process.execPath, ['--import', 'tsx', worker, JSON.stringify(plan)], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const said: Record<string, (value: unknown) => void> = {};
  const heard = (what: string) => new Promise<unknown>((resolve) => (said[what] = resolve));
  const ready = heard('ready');
  const fined = heard('fined');
  const spends = heard('spends');
  createInterface({ input: child.stdout }).on('line', (line) => {
    const message = JSON.parse(line) as Record<string, unknown>;
    for (const [what, value] of Object.entries(message)) said[what]?.(value);
  });
  const exited = new Promise<number[]>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? spends.then((s) => resolve(s as number[])) : reject(new Error(`worker exited ${code}: ${err}`)),
    );
  });
  return {
    ready: Promise.race([ready, exited]).then(() => undefined),
    fined: Promise.race([fined, exited]).then(() => undefined),
    spends: exited,
    go: (t0) => child.stdin.end(`${JSON.stringify({ t0 })}\n`),
  };
}

const count = (times: number[], from: number, to: number) => times.filter((t) => t >= from && t < to).length;

describe('a capacity budget shared through Redis', () => {
  it('should give the same waits from the Lua script as the in-process Gcra, for a scripted sequence', async () => {
    const run = capacityScriptRunner(redis);
    const key = `test:${randomUUID()}`;
    const rate = 40;
    const burstMs = 100;
    const gcra = new Gcra(rate, burstMs);
    // reservations of various sizes, corrections both ways, a fine, and pauses that let the bucket refill
    const script: Array<['reserve' | 'correct' | 'penalize', number] | ['sleep', number]> = [
      ['reserve', 1],
      ['reserve', 3],
      ['reserve', 2.5],
      ['correct', -2],
      ['reserve', 10],
      ['sleep', 60],
      ['reserve', 1],
      ['correct', 4],
      ['reserve', 0.5],
      ['penalize', 6],
      ['reserve', 1],
      ['sleep', 400],
      ['reserve', 2],
      ['reserve', 2],
      ['correct', -1],
      ['reserve', 2],
    ];
    const lua: number[] = [];
    const local: number[] = [];
    for (const [mode, n] of script) {
      if (mode === 'sleep') {
        await new Promise((r) => setTimeout(r, n));
        continue;
      }
      const { wait, now } = await run(key, mode, n, rate, mode === 'reserve' ? burstMs : 0);
      if (mode === 'reserve') {
        lua.push(wait);
        local.push(gcra.reserve(n, now));
      } else if (mode === 'correct') gcra.correct(n);
      // (a fine is charged from now at the earliest: the in-process bucket does it with a reservation of no burst)
      else (gcra.reserve(0, now), gcra.correct(n));
    }
    expect(lua).toEqual(local);
    // the waits are not all 0 or all alike: the sequence reached the rate limit and refilled
    expect(lua.filter((w) => w > 0).length).toBeGreaterThanOrEqual(4);
    expect(lua.filter((w) => w === 0).length).toBeGreaterThanOrEqual(2);
    // the key is kept until a minute after it is paid for, then forgotten
    const ttl = await redis.pttl(key);
    expect(ttl).toBeGreaterThan(IDLE_MS - 1000);
    expect(ttl).toBeLessThanOrEqual(IDLE_MS + 1000);
  });

  it('should cut the shared rate on a fine with a cut, price every spend at it while it climbs back, and not cut twice within the hold', async () => {
    const run = capacityScriptRunner(redis);
    const key = `cut:${randomUUID()}`;
    const full = 100;
    const cut = { factor: 0.5, recoverMs: 2000, holdMs: 1000 };
    // the rate in force at `now`, after a cut to `to` at `at`
    const inForce = (to: number, at: number, now: number) => Math.min(full, to + ((full - to) * (now - at)) / cut.recoverMs);
    const first = await run(key, 'penalize', 0, full, 0, cut);
    expect(first.rate).toBe(50);
    const a = await run(key, 'reserve', 1, full, 0);
    expect(a.rate).toBeCloseTo(inForce(50, first.now, a.now), 9);
    // the next reservation waits for the first, priced at the rate in force when it was made
    const b = await run(key, 'reserve', 1, full, 0);
    expect(b.wait).toBeCloseTo(Math.max(first.now, a.now) + 1000 / a.rate - b.now, 6);
    // another worker's throttle in the same wave: fined, not cut again
    const again = await run(key, 'penalize', 0, full, 0, cut);
    expect(again.rate).toBeCloseTo(inForce(50, first.now, again.now), 9);
    await new Promise((r) => setTimeout(r, 1100));
    // past the hold: cut again, from the rate in force (climbing back), not from the full rate
    const second = await run(key, 'penalize', 0, full, 0, cut);
    expect(second.rate).toBeCloseTo(0.5 * inForce(50, first.now, second.now), 9);
    expect(second.rate).toBeGreaterThan(35);
    expect(second.rate).toBeLessThan(45);
    await new Promise((r) => setTimeout(r, 2100));
    // climbed back: the full rate
    expect((await run(key, 'reserve', 0, full, 0)).rate).toBe(full);
    // a fine without a cut leaves the rate alone
    await run(key, 'penalize', 0, full, 0);
    expect((await run(key, 'reserve', 0, full, 0)).rate).toBe(full);
  });

  it('should keep 4 worker processes together within the budget while one joins late and one leaves early', async () => {
    const unitsPerSecond = 300;
    const burstSeconds = 0.5;
    const key = `rate:${randomUUID()}`;
    const plan = (from: number, until: number): WorkerPlan => ({ redisUrl, key, unitsPerSecond, burstSeconds, from, until, inFlight: 16 });
    const started = [
      startWorker(plan(0, 4000)),
      startWorker(plan(0, 4000)),
      startWorker(plan(1500, 4000)), // joins late
      startWorker(plan(0, 2500)), // leaves early
    ];
    await Promise.all(started.map((w) => w.ready));
    const t0 = Date.now() + 100;
    const t1 = t0 + 4000;
    for (const w of started) w.go(t0);
    const workers = await Promise.all(started.map((w) => w.spends));
    const all = workers.flat();
    const total = count(all, t0, t1);
    // a fresh bucket lets the burst (and the one reservation at its edge) go at once, then the rate holds
    const expected = 1 + unitsPerSecond * burstSeconds + unitsPerSecond * 4;
    const seconds = [0, 1, 2, 3].map((s) => count(all, t0 + s * 1000, t0 + (s + 1) * 1000));
    const perWorker = workers.map((w) => count(w, t0, t1));
    console.log(
      `shared budget: ${total} units in 4 s (expected ${expected}); per second ${seconds.join(', ')}; per worker ${perWorker.join(', ')}`,
    );
    expect(Math.abs(total / expected - 1)).toBeLessThan(0.05);
    // every second after the burst, whoever is there: within 5 % of the rate
    for (const s of seconds.slice(1)) expect(Math.abs(s / unitsPerSecond - 1)).toBeLessThan(0.05);
    // the late worker did spend after it joined, the early one stopped
    expect(count(workers[2]!, t0, t0 + 1500)).toBe(0);
    expect(count(workers[2]!, t0 + 1500, t1)).toBeGreaterThan(100);
    expect(count(workers[3]!, t0 + 2800, t1)).toBe(0);
  });

  it('should delay the spends of every process after another one meets throttling', async () => {
    const key = `fine:${randomUUID()}`;
    const local = capacity({ unitsPerSecond: 100, burstSeconds: 0, store: redisCapacityStore(redis), key });
    const timed = async () => {
      const start = Date.now();
      await firstValueFrom(local.spend(1, use));
      return Date.now() - start;
    };
    await timed();
    await new Promise((r) => setTimeout(r, 50));
    const before = await timed();
    // another process: DynamoDB throttled 25 units of its calls, charged twice (50 units: 500 ms at 100 units/s)
    const other = startWorker({ redisUrl, key, unitsPerSecond: 100, burstSeconds: 0, from: 0, until: 0, inFlight: 0, throttle: 25 });
    await other.ready;
    other.go(Date.now());
    await other.fined;
    const after = await timed();
    // and the shared rate is cut (default throttleCut: 0.7 of 100 units/s, climbing back over 10 s)
    const { rate } = await capacityScriptRunner(redis)(`rxjs-dynamodb:capacity:${key}`, 'reserve', 0, 100, 0);
    expect(rate).toBeGreaterThanOrEqual(70);
    expect(rate).toBeLessThan(72.5);
    await other.spends;
    console.log(`wait before the fine ${before} ms, after it ${after} ms`);
    expect(before).toBeLessThan(30);
    // (less the few ms the news of the fine took to come back)
    expect(after).toBeGreaterThan(450);
    expect(after).toBeLessThanOrEqual(520);
  });

  it('should fail a spend with CapacityStoreError when Redis does not answer', async () => {
    const gone = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    gone.on('error', () => {});
    const budget = capacity({ unitsPerSecond: 10, store: redisCapacityStore(gone), key: 'k' });
    const error = await firstValueFrom(budget.spend(1, use)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CapacityStoreError);
    expect(error).toMatchObject({ name: 'CapacityStoreError', code: 'capacityStore.unavailable', key: 'k' });
    gone.disconnect();
  });
});
