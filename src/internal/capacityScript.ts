/**
 * The Lua side of a shared capacity budget: the same GCRA as the in-process `Gcra` (src/capacity.ts), run atomically
 * in Redis on one key per budget, with the Redis server's clock (`TIME`) so that every machine reads the same time.
 */
import { createHash } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';

/** How long a bucket's key outlives its last reservation's `tat`, so late corrections still find it. */
export const IDLE_MS = 60_000;

/**
 * KEYS[1]: the bucket, a hash: `tat` (ms of the server's clock: when everything reserved so far is paid for) and,
 * once a throttle has cut its rate, `cut` (the rate right after the cut, units per second), `at` (when) and `recover`
 * (ms to climb back to the full rate). ARGV: mode (`reserve` | `correct` | `penalize`), units, the full units per
 * second, burst ms; for `penalize` also the cut's factor (0: no cut), its recovery ms and its hold ms.
 *
 * The rate in force at `now` is the full rate, or after a cut `cut + (full - cut) * (now - at) / recover` until it is
 * back to full: every reservation, correction and fine of every process is priced at it. A fine cuts the rate to
 * `factor` times the rate in force (at least 1 % of the full rate), unless the last cut is less than the hold old:
 * many workers reporting the same wave of throttling cut once. Returns `{ wait, now, rate }` as text (a Lua number
 * would come back as a truncated integer).
 */
export const CAPACITY_SCRIPT = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local mode = ARGV[1]
local units = tonumber(ARGV[2])
local full = tonumber(ARGV[3])
local burst = tonumber(ARGV[4])
local state = redis.call('HMGET', KEYS[1], 'tat', 'cut', 'at', 'recover')
local tat = tonumber(state[1])
local cut = tonumber(state[2])
local at = tonumber(state[3])
local recover = tonumber(state[4])
local rate = full
if cut and at and recover and now < at + recover then rate = math.min(full, cut + (full - cut) * (now - at) / recover) end
local cost = units / rate * 1000
local wait = 0
if mode == 'reserve' then
  -- a reservation may start burst ms before tat, and moves tat on by its cost
  tat = math.max(tat or now, now)
  wait = math.max(0, tat - burst - now)
  tat = tat + cost
elseif mode == 'correct' then
  -- more (or less) than reserved: tat moves by the difference; a forgotten bucket has nothing to correct
  if not tat then return { '0', string.format('%.17g', now), string.format('%.17g', rate) } end
  tat = tat + cost
else
  -- a fine is paid from now at the earliest (at the rate that was too much): it delays every worker's next reservation
  tat = math.max(tat or now, now) + cost
  local factor = tonumber(ARGV[5] or '0')
  local hold = tonumber(ARGV[7] or '0')
  if factor > 0 and not (at and now - at < hold) then
    local lowered = math.max(full * 0.01, rate * factor)
    redis.call('HSET', KEYS[1], 'cut', string.format('%.17g', lowered), 'at', string.format('%.17g', now), 'recover', ARGV[6])
    rate = lowered
  end
end
redis.call('HSET', KEYS[1], 'tat', string.format('%.17g', tat))
-- kept while it is owed or its rate recovers, and a minute more
local until_ = math.max(tat, (at or now) + (recover or 0))
redis.call('PEXPIRE', KEYS[1], math.ceil(math.max(until_ - now, 0)) + ${IDLE_MS})
return { string.format('%.17g', wait), string.format('%.17g', now), string.format('%.17g', rate) }
`;

const SHA = createHash('sha1').update(CAPACITY_SCRIPT).digest('hex');

export type CapacityScriptMode = 'reserve' | 'correct' | 'penalize';

/**
 * What one run of the script gave: the wait (ms) before the reserved units may be spent, the server's now (ms), and
 * the rate in force (units per second; after a `penalize` that cut it, the rate cut to).
 */
export interface ScriptResult {
  wait: number;
  now: number;
  rate: number;
}

/** How a fine cuts a shared bucket's rate: `factor` of the rate in force, back to full over `recoverMs`, not again within `holdMs`. */
export interface ScriptCut {
  factor: number;
  recoverMs: number;
  holdMs: number;
}

/** Runs the script by its SHA, loading it once first (and again if the server forgot it: a restart, SCRIPT FLUSH). */
export function capacityScriptRunner(redis: Redis | Cluster) {
  let loaded: Promise<unknown> | undefined;
  return async (
    key: string,
    mode: CapacityScriptMode,
    units: number,
    unitsPerSecond: number,
    burstMs: number,
    cut?: ScriptCut,
  ): Promise<ScriptResult> => {
    // (every call awaits the same load: their commands then go in the order they were asked)
    await (loaded ??= redis.script('LOAD', CAPACITY_SCRIPT).catch((error: unknown) => ((loaded = undefined), Promise.reject(error))));
    const args = [mode, String(units), String(unitsPerSecond), String(burstMs)];
    if (cut) args.push(String(cut.factor), String(cut.recoverMs), String(cut.holdMs));
    let reply: unknown;
    try {
      reply = await redis.evalsha(SHA, 1, key, ...args);
    } catch (error) {
      if (!String((error as Error | undefined)?.message).startsWith('NOSCRIPT')) throw error;
      reply = await redis.eval(CAPACITY_SCRIPT, 1, key, ...args);
    }
    const [wait, now, rate] = Array.isArray(reply) ? reply.map(Number) : [NaN, NaN, NaN];
    if (!Number.isFinite(wait) || !Number.isFinite(now) || !Number.isFinite(rate))
      throw new TypeError(`unexpected reply from the capacity script: ${JSON.stringify(reply)}`);
    return { wait: wait!, now: now!, rate: rate! };
  };
}
