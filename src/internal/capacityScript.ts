/**
 * The Lua side of a shared capacity budget: the same GCRA as the in-process `Gcra` (src/capacity.ts), run atomically
 * in Redis on one key per budget, with the Redis server's clock (`TIME`) so that every machine reads the same time.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** How long a bucket's key outlives its last reservation's `tat`, so late corrections still find it. */
export const IDLE_MS = 60_000;

/**
 * KEYS[1]: the bucket. ARGV: mode (`reserve` | `correct` | `penalize`), units, units per second, burst ms.
 * The key holds `tat` (ms of the server's clock): when everything reserved so far is paid for. Returns
 * `{ wait, now }` as text (a Lua number would come back as a truncated integer).
 */
export const CAPACITY_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local mode = ARGV[1]
local cost = tonumber(ARGV[2]) / tonumber(ARGV[3]) * 1000
local burst = tonumber(ARGV[4])
local stored = redis.call('GET', KEYS[1])
local tat = stored and tonumber(stored)
local wait = 0
if mode == 'reserve' then
  -- a reservation may start burst ms before tat, and moves tat on by its cost
  tat = math.max(tat or now, now)
  wait = math.max(0, tat - burst - now)
  tat = tat + cost
elseif mode == 'correct' then
  -- more (or less) than reserved: tat moves by the difference; a forgotten bucket has nothing to correct
  if not tat then return { '0', string.format('%.17g', now) } end
  tat = tat + cost
else
  -- a penalty is paid from now at the earliest: it delays the next reservation of every worker
  tat = math.max(tat or now, now) + cost
end
redis.call('SET', KEYS[1], string.format('%.17g', tat), 'PX', math.ceil(math.max(tat - now, 0)) + ${IDLE_MS})
return { string.format('%.17g', wait), string.format('%.17g', now) }
`;

const SHA = createHash('sha1').update(CAPACITY_SCRIPT).digest('hex');

export type CapacityScriptMode = 'reserve' | 'correct' | 'penalize';

/** What one run of the script gave: the wait (ms) before the reserved units may be spent, and the server's now (ms). */
export interface ScriptResult {
  wait: number;
  now: number;
}

/** Runs the script by its SHA, loading it once first (and again if the server forgot it: a restart, SCRIPT FLUSH). */
export function capacityScriptRunner(redis: Redis | Cluster) {
  let loaded: Promise<unknown> | undefined;
  return async (key: string, mode: CapacityScriptMode, units: number, unitsPerSecond: number, burstMs: number): Promise<ScriptResult> => {
    // (every call awaits the same load: their commands then go in the order they were asked)
    await (loaded ??= redis.script('LOAD', CAPACITY_SCRIPT).catch((error: unknown) => ((loaded = undefined), Promise.reject(error))));
    const args = [mode, String(units), String(unitsPerSecond), String(burstMs)];
    let reply: unknown;
    try {
      reply = await redis.evalsha(SHA, 1, key, ...args);
    } catch (error) {
      if (!String((error as Error | undefined)?.message).startsWith('NOSCRIPT')) throw error;
      reply = await redis.eval(CAPACITY_SCRIPT, 1, key, ...args);
    }
    const [wait, now] = Array.isArray(reply) ? reply.map(Number) : [NaN, NaN];
    if (!Number.isFinite(wait) || !Number.isFinite(now))
      throw new TypeError(`unexpected reply from the capacity script: ${JSON.stringify(reply)}`);
    return { wait: wait!, now: now! };
  };
}
