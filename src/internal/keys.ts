import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { canonicalNumber } from './numbers.js';

export { canonicalNumber };

/** One key attribute's value as a string that is equal exactly when DynamoDB sees the same value. */
function keyPart(value: AttributeValue | undefined): string {
  if (value === undefined) return '?';
  if (value.S !== undefined) return `s${value.S}`;
  if (value.N !== undefined) return `n${canonicalNumber(value.N)}`;
  if (value.B !== undefined) return `b${Buffer.from(value.B).toString('base64')}`;
  return `?${JSON.stringify(value)}`;
}

/** Identity of an item within a table: equal strings exactly for equal keys (each part is length-prefixed). */
export function keyString(table: string, item: Record<string, AttributeValue>, attributes: string[]): string {
  let s = table;
  for (const a of attributes) {
    const part = keyPart(item[a]);
    s += `\u0000${part.length}:${part}`;
  }
  return s;
}

/** `pk="ticket#1", sk=7`: a key for error messages, short enough to read. */
export function describeKey(key: Record<string, AttributeValue>, attributes: string[]): string {
  return attributes
    .map((a) => {
      const v = key[a];
      const shown =
        v?.S !== undefined
          ? JSON.stringify(v.S.length > 80 ? `${v.S.slice(0, 80)}…` : v.S)
          : (v?.N ?? (v?.B ? `<${v.B.byteLength} bytes>` : 'missing'));
      return `${a}=${shown}`;
    })
    .join(', ');
}
