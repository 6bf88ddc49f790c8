/**
 * The throughput controller: the rate, in capacity units per second, at which one table is driven, found from what
 * DynamoDB is doing now. Plain synchronous code over the scheduler's clock: calls report what they offered and what
 * DynamoDB delivered, and the controller paces the next ones (a GCRA reservation).
 *
 * - **Starting:** the rate begins at `startRate` and doubles every `doublingMs` while nothing pushes back (TCP's slow
 *   start, in units per second): a table that does not throttle is driven as fast as the calls in flight allow within
 *   a few hundred milliseconds, and a busy one (its burst spent) is not hammered by every call at once.
 * - **Cut:** in windows of up to `windowMs`, it compares the units offered (retries included) with those delivered.
 *   When the share lost rises above the loss that does not depend on the rate (the floor), the rate becomes what was
 *   delivered — with a table at its capacity, that is the capacity (its token bucket refills at that rate) — but at
 *   most halving at once, as a window's estimate is noisy.
 * - **Check:** the next windows confirm the cut (loss back at the floor: the table's capacity), cut again (the cut was
 *   not enough: a burst was still being spent), or show that the loss does not come from the rate — faults, one hot
 *   partition that its own backoff paces — because what is delivered fell in proportion to what is offered, twice in
 *   a row: that loss becomes the floor, and the rate goes back to starting.
 * - **Probe:** after a hold the rate grows along a cubic curve (TCP CUBIC, and the AWS SDK's adaptive retry mode):
 *   quickly back towards the rate that was too much, flat near it, then faster and faster beyond — so more capacity
 *   (an operator raising it, a table scaling) is found within seconds, and a steady capacity is probed less and less
 *   often.
 */
import { Gcra } from '../../capacity.js';

/** Why the rate is what it is. */
export type RateReason =
  | 'starting' /** nothing has pushed back yet: doubling */
  | 'throttled' /** DynamoDB pushed back: set to what it delivered */
  | 'holding' /** just after a cut, checking it */
  | 'probing'; /** growing back along the cubic curve */

/** What one call (or page) offered and what DynamoDB did with it. */
export interface CallSample {
  /** Capacity units the call asked for (its requests' estimated cost). */
  offered: number;
  /** Capacity units DynamoDB delivered (written, read; its ConsumedCapacity when it said). */
  delivered: number;
  /** When the call was sent (the scheduler's clock); when it came back if not given. */
  sentAt?: number;
}

export interface ControllerOptions {
  /** The rate to start at. @default 1000 */
  startRate?: number;
  /** How fast the rate doubles while nothing pushes back. @default 50 */
  doublingMs?: number;
  /** Length of a measuring window. @default 250 */
  windowMs?: number;
  /** A window also ends after this many calls. @default 32 */
  windowCalls?: number;
  /** Loss share above the floor that counts as DynamoDB pushing back. @default 0.02 */
  margin?: number;
  /** How long the rate holds after a cut before it grows (longer while cuts keep landing at the same rate). @default 500 */
  holdMs?: number;
  /**
   * The cubic curve: `s` seconds after the hold, the rate is `wMax * (1 + growth * (s - K)^3)`, where `wMax` is the
   * rate that was too much and `K` the time it takes to climb back to it from the cut. @default 0.05
   */
  growth?: number;
}

/** What a window saw, per second. */
interface Window {
  loss: number;
  delivered: number;
  offered: number;
  /** Milliseconds it lasted. */
  ms: number;
  /** Units it offered. */
  units: number;
}

/** One table's rate, shared by the operators and sources that share it. */
export class RateController {
  /** Units per second now. */
  rate: number;
  reason: RateReason = 'starting';
  /** Loss share that does not fall with the rate (faults, a hot partition): not a sign of the table's capacity. */
  floor = 0;
  /** The floor as it was learned: averaging follows faults below it, not above. */
  private learnedFloor = 0;
  private readonly gcra: Gcra;
  private readonly o: Required<ControllerOptions>;
  /** When starting began (the first call), and from what rate. */
  private startAt: number | undefined;
  private startFrom: number;
  private window = { start: 0, offered: 0, delivered: 0, calls: 0 };
  private cutAt = -Infinity;
  private cutRate = 0;
  /** The rate that was too much, at the last cut: the cubic curve's plateau. */
  private wMax = 0;
  private hold: number;
  /** The rate before a cut, to go back to if the loss turns out not to come from the rate. */
  private beforeCut = 0;
  private wasStarting = true;
  /** Starting again after the first confirmed cut. */
  private restarted = false;
  /** While starting: a lossy window, waiting for the next to tell faults from capacity. */
  private suspect: Window | undefined;
  /** The window that made the last cut, and how many checks in a row found delivered falling with offered. */
  private lastCut: Window | undefined;
  private proportional = 0;
  /**
   * Recent calls by when they were sent. Calls that came back short, close together, found the table's bucket empty
   * when they were served; what the calls sent between the first and the last of them got is exactly what the table
   * refilled meanwhile — its capacity, measured over the whole span rather than over one noisy window.
   */
  private recent: Array<{ sentAt: number; delivered: number; short: boolean }> = [];
  /** The capacity last measured: where a probe that finds no more comes back to. */
  private capacity: number | undefined;
  /** The most offered in a window lately (decaying): the rate does not grow far beyond what is really sent. */
  private highestOffered = 0;

  constructor(
    private readonly now: () => number,
    options: ControllerOptions = {},
  ) {
    const { startRate = 1000, doublingMs = 50, windowMs = 250, windowCalls = 32, margin = 0.02, holdMs = 500, growth = 0.05 } = options;
    this.o = { startRate, doublingMs, windowMs, windowCalls, margin, holdMs, growth };
    this.rate = this.startFrom = startRate;
    this.hold = holdMs;
    this.gcra = new Gcra(startRate, 0);
  }

  /** DynamoDB pushed back lately: a cut, not yet a hold old. Retries then wait out a backoff. */
  saturated(): boolean {
    return (this.reason === 'holding' || this.reason === 'throttled') && this.now() - this.cutAt < this.hold;
  }

  /** Reserves `units` at the current rate; returns how long to wait before the call that spends them (0: now). */
  reserve(units: number): number {
    const now = this.now();
    this.startAt ??= now;
    this.grow(now);
    // starting, a call paced to go later goes at the rate it will have doubled to by then: calls in flight that all
    // reserve at once are not spread out at the start rate
    const rate = this.reason === 'starting' ? this.startingRate(Math.max(now, this.gcra.paidUntil)) : this.rate;
    if (this.gcra.rate !== rate) this.gcra.setRate(rate, now);
    return this.gcra.reserve(units, now);
  }

  /** A call came back: counted in the current window; a window that ends is judged. */
  record(sample: CallSample): void {
    const now = this.now();
    const w = this.window;
    if (w.calls === 0 && w.offered === 0) w.start = Math.min(w.start || now, now);
    w.offered += sample.offered;
    w.delivered += sample.delivered;
    w.calls++;
    this.track(now, sample);
    if (this.windowEnds(now)) this.judge(now);
  }

  /** Keeps the last two seconds of calls (without a floor only: faults shorten calls at any rate). */
  private track(now: number, { offered, delivered, sentAt = now }: CallSample): void {
    if (this.floor > 0) return;
    const recent = this.recent;
    recent.push({ sentAt, delivered, short: delivered < offered });
    if (recent.length > 64 && recent[32]!.sentAt < now - 2000) this.recent = recent.filter((c) => c.sentAt >= now - 2000);
  }

  /**
   * The capacity measured over the latest run of short calls (each within 300 ms of the next, by when they were sent),
   * once the run spans at least `ms`.
   */
  private measured(ms: number): number | undefined {
    if (this.floor > 0) return undefined;
    const short = this.recent.filter((c) => c.short).sort((a, b) => a.sentAt - b.sentAt);
    if (short.length < 2) return undefined;
    const last = short[short.length - 1]!.sentAt;
    if (this.now() - last > 300 + this.o.windowMs) return undefined;
    let from = last;
    for (let i = short.length - 2; i >= 0 && from - short[i]!.sentAt <= 300; i--) from = short[i]!.sentAt;
    if (last - from < ms) return undefined;
    const units = this.recent.reduce((sum, c) => (c.sentAt > from && c.sentAt <= last ? sum + c.delivered : sum), 0);
    return (units / (last - from)) * 1000;
  }

  /**
   * A window ends on time, after enough calls, or early as soon as a few calls show DynamoDB pushing back (a busy
   * table must not be hammered for a whole window) — looked at after every call, so that asks for more than a
   * window's own judgement does. Just after a cut, windows last half as long, and end early only if a quarter of what
   * they offered (100 units at least) came back: checking a cut needs rates measured over some time, but not too long at a rate that may be wrong.
   */
  private windowEnds(now: number): boolean {
    const { start, offered, delivered, calls } = this.window;
    const elapsed = now - start;
    // (checking a cut needs 100 units at least, unless the rate is so low that they take four windows)
    const holding = this.reason === 'holding';
    if (elapsed >= (holding ? this.o.windowMs / 2 : this.o.windowMs) && (!holding || offered >= 100 || elapsed >= 4 * this.o.windowMs))
      return true;
    if (elapsed < 5 || calls < 4) return false;
    const loss = 1 - delivered / offered;
    // (just after a cut, only a loss clearly worse than the cut's ends a window early: faults lose the same share)
    const worse = Math.max(0.25, this.floor + 0.2, (this.lastCut?.loss ?? 0) + 0.15);
    if (this.reason === 'holding' && (loss < worse || offered < 100)) return false;
    const pushedBack = loss > this.floor + Math.max(2 * this.o.margin, (5 / 3) * this.noise(offered));
    // (starting, a loss that faults might cause waits for 200 units: telling them from a capacity takes two windows
    // whose shares lost can be compared)
    if (pushedBack && this.reason === 'starting' && !this.restarted && loss <= 0.5 && offered < 200) return false;
    return pushedBack || (calls >= this.o.windowCalls && this.reason !== 'holding');
  }

  /**
   * How much more than the floor a window's loss must be to count as DynamoDB pushing back: the margin, or three
   * standard deviations of the floor's own loss over the units the window offered (faults are noisy).
   */
  private noise(units: number): number {
    const f = this.floor;
    return Math.max(this.o.margin, 3 * Math.sqrt((f * (1 - f)) / Math.max(1, units)));
  }

  /** The rate while starting, at `at`: doubling, up to 4 times the most offered lately. */
  private startingRate(at: number): number {
    const ceiling = this.highestOffered > 0 ? Math.max(this.o.startRate, 4 * this.highestOffered) : Infinity;
    const doubling = this.restarted ? 4 * this.o.doublingMs : this.o.doublingMs;
    return Math.min(ceiling, this.startFrom * 2 ** ((at - this.startAt!) / doubling));
  }

  /** The rate by the clock: doubling while starting; along the cubic curve once a hold after a cut is over. */
  private grow(now: number): void {
    // it does not grow far beyond what is really sent (calls in flight, or the source, may be the limit)
    const ceiling = this.highestOffered > 0 ? Math.max(this.o.startRate, 4 * this.highestOffered) : Infinity;
    if (this.reason === 'starting') {
      this.rate = this.startingRate(now);
      return;
    }
    if (now - this.cutAt < this.hold) return;
    const s = (now - this.cutAt - this.hold) / 1000;
    const { growth } = this.o;
    const k = Math.cbrt(Math.max(0, 1 - this.cutRate / this.wMax) / growth);
    const next = Math.min(ceiling, Math.max(this.cutRate, this.wMax * (1 + growth * (s - k) ** 3)));
    if (next > this.rate) {
      this.rate = next;
      this.reason = 'probing';
    }
    // half as much again as the rate that was too much, and nothing pushes back: the capacity grew (an operator, a
    // table scaling); find it as at the start, doubling (four times slower than the first start)
    if (this.rate >= 1.5 * this.wMax) {
      this.reason = 'starting';
      this.restarted = true;
      this.startFrom = this.rate;
      this.startAt = now;
    }
  }

  /** The end of a window: was DynamoDB pushing back, and is the last cut confirmed? */
  private judge(now: number): void {
    const w = this.window;
    const elapsed = Math.max(1, now - w.start) / 1000;
    const window: Window = {
      loss: Math.max(0, 1 - w.delivered / w.offered),
      delivered: w.delivered / elapsed,
      offered: w.offered / elapsed,
      ms: elapsed * 1000,
      units: w.offered,
    };
    this.window = { start: now, offered: 0, delivered: 0, calls: 0 };
    if (w.offered === 0) return;
    this.highestOffered = Math.max(this.highestOffered * 0.9, window.offered);
    if (this.reason === 'holding') return this.check(now, window);
    if (window.loss > this.floor + this.noise(w.offered)) {
      if (this.reason === 'starting' && !this.restarted && this.startingLoss(window)) return;
      return this.cut(now, window);
    }
    this.suspect = undefined;
    // no push-back: a floor learned from faults follows their loss (an average: up to the share it was learned at,
    // and down towards none if they stop)
    if (this.floor > 0) this.floor = Math.min(this.learnedFloor, this.floor + (window.loss - this.floor) * 0.05);
  }

  /**
   * Loss while starting: the first lossy window only raises a suspicion, and the rate goes on doubling; if the next
   * one loses the same share while what it delivered grew with what it offered, the loss does not come from the rate
   * (faults): it becomes the floor and starting goes on. Otherwise (what was delivered did not grow: the table's
   * capacity), the window is cut. True when it is not cut.
   */
  private startingLoss(window: Window): boolean {
    const suspect = this.suspect;
    // (most of a window lost is not a fault rate worth waiting for: cut)
    if (window.loss > 0.5 && window.units >= 100) return false;
    if (!suspect) {
      this.suspect = window;
      return true;
    }
    this.suspect = undefined;
    const grew = window.offered / suspect.offered;
    const sameShape = grew >= 1.3 && Math.abs(window.delivered / suspect.delivered / grew - 1) <= 0.15;
    if (sameShape && Math.abs(window.loss - suspect.loss) <= this.sameLoss(window, suspect)) {
      this.floor = this.learnedFloor = Math.min(0.9, Math.max(window.loss, suspect.loss));
      return true;
    }
    return false;
  }

  /**
   * How far apart two windows' shares lost may be and still be the same share: three standard deviations of the
   * difference of two binomial shares over the units they offered, between 0.03 and 0.1.
   */
  private sameLoss(a: Window, b: Window): number {
    const p = (a.loss + b.loss) / 2;
    return Math.min(0.1, Math.max(0.03, 3 * Math.sqrt(p * (1 - p) * (1 / a.units + 1 / b.units))));
  }

  /** DynamoDB pushed back: the rate becomes what it delivered (what the table gives), and the cut is checked. */
  private cut(now: number, window: Window, again = false): void {
    if (this.reason !== 'holding') {
      this.beforeCut = this.rate;
      this.wasStarting = this.reason === 'starting';
      this.proportional = 0;
      // a cut near the last one: the capacity is steady, probe it less often (up to 4 holds); else probe again soon
      const target = window.delivered / (1 - this.floor);
      const steady = this.cutRate > 0 && Math.abs(target / this.cutRate - 1) < 0.15;
      this.hold = steady ? Math.min(4 * this.o.holdMs, this.hold * 1.5) : this.o.holdMs;
      // the rate that was too much: what was really offered (starting, the rate may be far above it), and not far
      // above what was delivered (a burst being spent delivers more than the table gives)
      this.wMax = Math.max(target, Math.min(this.rate, window.offered, 1.5 * target));
      // a probe that found no more than the capacity measured before: back just under that capacity
      if (this.reason === 'probing' && this.capacity !== undefined && target <= 1.1 * this.capacity) {
        this.wMax = this.capacity;
        this.rate = Math.min(this.rate, 0.97 * this.capacity, Math.max(target, 0.97 * this.capacity));
      }
    }
    // at most halving at once (a window too short to see a bucket refill delivers almost nothing; a quarter when most
    // was lost), and a cut that
    // follows a cut only goes down (a window just after one may still hold a burst being spent)
    const rate = Math.max(
      1,
      // (a cut that follows a cut goes to what the window delivered: the capacity measured over calls that include
      // those before the first cut may be too much — a burst spent, a capacity just lowered — or faults)
      (again ? undefined : this.measured(100)) ?? window.delivered / (1 - this.floor),
      (window.units >= 100 ? Math.min(this.rate, window.offered) : this.rate) / (window.loss > 0.5 ? 4 : 2),
    );
    // (the first push-back of a start may come from a burst running out with every call in flight: at least halved)
    const first = this.reason === 'starting' && !this.restarted ? Math.min(this.rate, window.offered) / 2 : Infinity;
    this.rate = Math.min(this.rate, rate, first);
    this.cutRate = this.rate;
    this.cutAt = now;
    this.reason = 'holding';
    // (the window of the episode's first cut is what later ones are compared with: the rate falls cut after cut,
    // while calls already paced at the old rate keep offering it for a while)
    if (!again) this.lastCut = window;
  }

  /** A window after a cut: confirm it, cut again, or learn that the loss is not about the rate. */
  private check(now: number, window: Window): void {
    if (window.loss <= this.floor + this.noise(window.offered * (this.o.windowMs / 1000))) {
      const measured = this.measured(150);
      // The first push-back may come from the first calls all at once, into a bucket a busy table has emptied; so
      // unless the capacity could be measured, the first confirmed cut starts again from there, doubling four times
      // slower, and the next cut is the one that ends the start.
      if (this.wasStarting && !this.restarted && measured === undefined) {
        this.restarted = true;
        this.reason = 'starting';
        this.startFrom = this.rate;
        this.startAt = now;
        return;
      }
      // the plateau of the cubic curve: the capacity measured, when the episode was long enough to measure it
      if (measured !== undefined) {
        this.wMax = this.capacity = measured;
        this.rate = this.cutRate = Math.min(Math.max(this.rate, 0.97 * measured), this.beforeCut);
      }
      this.reason = 'throttled';
      return;
    }
    // Faults take the same share whatever the rate: what is delivered falls with what is offered. At a table's
    // capacity, what is delivered does not fall (it is the capacity), and while a burst is still being spent it falls
    // further than what is offered.
    // (judged on windows long enough for their rates to mean something, and loss too large to be noise)
    // (judged on windows of 100 units at least, with a share lost that faults may take — at most half — and on
    // clearly less offered; the same share within three standard deviations of both windows' binomial noise)
    const cut = this.lastCut!;
    const offeredRatio = window.offered / cut.offered;
    const enough = (w: Window) => w.units >= 100 && w.loss >= 0.03 && w.loss <= 0.5;
    const proportional =
      enough(window) && enough(cut) && offeredRatio <= 0.7 && Math.abs(window.loss - cut.loss) <= this.sameLoss(window, cut);
    if (!proportional) this.proportional = 0;
    else if (++this.proportional >= 2) {
      this.floor = this.learnedFloor = Math.min(0.9, (window.loss + cut.loss) / 2);
      this.rate = this.beforeCut;
      if (this.wasStarting) {
        this.reason = 'starting';
        this.startFrom = this.beforeCut;
        this.startAt = now;
      } else {
        this.cutRate = this.wMax = this.beforeCut;
        this.cutAt = now - this.hold;
        this.reason = 'probing';
      }
      return;
    }
    this.cut(now, window, true);
  }
}

/** The controller of a table's reads or writes in `controllers`, made on first use (one per table and direction). */
export function controllerIn(
  controllers: Map<string, RateController>,
  table: string,
  kind: 'read' | 'write',
  now: () => number,
): RateController {
  const key = `${kind}\u0000${table}`;
  let controller = controllers.get(key);
  if (!controller) controllers.set(key, (controller = new RateController(now)));
  return controller;
}
