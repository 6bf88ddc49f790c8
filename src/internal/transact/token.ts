/**
 * The `ClientRequestToken` rules: a group's token derived from its content (`contentToken` of its `canonicalJson`),
 * and the memory that tells a group written again under the same token within DynamoDB's 10-minute window
 * (`ReplayMemory`). Plain synchronous code.
 */
import { createHash } from 'node:crypto';
import { isObject } from './group.js';

/** The longest `ClientRequestToken` DynamoDB takes. */
export const CLIENT_REQUEST_TOKEN_MAX_LENGTH = 36;
/** How long DynamoDB remembers a `ClientRequestToken` after the call that used it. */
export const TOKEN_WINDOW_MS = 10 * 60 * 1000;
/** Tokens of written groups a subscription remembers to tell replays (`replayOf`): the most recent ones. */
const REPLAY_MEMORY = 100_000;

/**
 * JSON with every object's keys sorted and everything else in the order given: DynamoDB compares maps by their
 * entries, but lists, sets (measured on DynamoDB Local: `SS ['a','b']` and `['b','a']` under one token are a mismatch)
 * and number text (`1` and `1.0` are a mismatch too) as written. Bytes (`B`, `BS`) as base64, as on the wire.
 */
export function canonicalJson(value: unknown): string {
  if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64'));
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (isObject(value)) {
    const keys = Object.keys(value)
      .filter((k) => value[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

/**
 * A group's `ClientRequestToken`, derived from its content: the first 36 hex digits of the SHA-256 of the
 * {@link canonicalJson} of its marshalled actions. The same group always gets the same token, so a retry after a
 * timeout (or a second run within DynamoDB's 10-minute window) cannot apply it twice; groups that differ get
 * different tokens.
 */
export function contentToken(canonical: string): string {
  return createHash('sha256').update(canonical).digest('hex').slice(0, CLIENT_REQUEST_TOKEN_MAX_LENGTH);
}

/** Tokens of groups written, with when: a later group with the same token within 10 minutes is a replay. */
export class ReplayMemory {
  private readonly written = new Map<string, { index: number; at: number }>();

  /**
   * The earlier group written with `token` less than 10 minutes before `now`, if any; otherwise group `index` is
   * remembered as written with it at `now`.
   */
  replayOf(token: string, index: number, now: number): number | undefined {
    // tokens are kept in the order written: forget those DynamoDB has forgotten
    for (const [t, { at }] of this.written) {
      if (now - at < TOKEN_WINDOW_MS) break;
      this.written.delete(t);
    }
    const earlier = this.written.get(token);
    if (earlier) return earlier.index;
    // bounded memory for fast streams: only the most recent tokens are checked
    if (this.written.size >= REPLAY_MEMORY) this.written.delete(this.written.keys().next().value!);
    this.written.set(token, { index, at: now });
    return undefined;
  }
}
