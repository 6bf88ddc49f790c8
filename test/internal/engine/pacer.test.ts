import { asyncScheduler } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { capacity } from '../../../src/capacity.js';
import { Pacer } from '../../../src/internal/engine/pacer.js';
import { readController } from '../../../src/sources/pageInternals.js';

describe('Pacer: rate controllers shared through a capacity() budget', () => {
  it('should give operators and sources that share a budget one controller per table and direction', () => {
    const budget = capacity({ unitsPerSecond: 1_000 });
    const a = new Pacer('adaptive', 8, asyncScheduler, budget);
    const b = new Pacer('adaptive', 8, asyncScheduler, budget);
    const tickets = a.controller('Tickets', 'write');
    expect(tickets).toBeDefined();
    expect(b.controller('Tickets', 'write')).toBe(tickets);
    expect(a.controller('Tickets', 'read')).not.toBe(tickets);
    expect(a.controller('Other', 'write')).not.toBe(tickets);
    // a source paced with the same budget reads at the rate the read operators found
    expect(readController(budget, 'Tickets', asyncScheduler)).toBe(b.controller('Tickets', 'read'));
  });

  it('should give operators without a budget their own controllers, and none with a fixed concurrency', () => {
    const a = new Pacer('adaptive', 8, asyncScheduler, undefined);
    const b = new Pacer('adaptive', 8, asyncScheduler, undefined);
    expect(a.controller('Tickets', 'write')).toBe(a.controller('Tickets', 'write'));
    expect(a.controller('Tickets', 'write')).not.toBe(b.controller('Tickets', 'write'));
    expect(new Pacer(4, 16, asyncScheduler, capacity({ unitsPerSecond: 100 })).controller('Tickets', 'write')).toBeUndefined();
    expect(readController(undefined, 'Tickets', asyncScheduler)).not.toBe(readController(undefined, 'Tickets', asyncScheduler));
  });
});
