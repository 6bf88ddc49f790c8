import type { AttributeValue } from '@aws-sdk/client-dynamodb';

/**
 * Bytes a value takes in the JSON request body DynamoDB receives — type wrappers, escaping (`"` → 2 bytes, control
 * characters → 6), UTF-8, binary as base64 — which is what the 16 MiB request limit counts. Item size is not wire
 * size: a list element `{"N":"7"},` is 10 bytes on the wire and 2 of item size.
 */
const jsonStringBytes = (s: string): number => {
  // Fast path: printable ASCII without `"` or `\` serializes to itself plus two quotes.
  // eslint-disable-next-line no-control-regex
  if (/^[\x20-\x21\x23-\x5b\x5d-\x7e]*$/.test(s)) return s.length + 2;
  return Buffer.byteLength(JSON.stringify(s), 'utf8');
};
const base64Bytes = (n: number): number => 4 * Math.ceil(n / 3);
/** `[a,b,c]` */
const listBytes = (sizes: number[]): number => 2 + sizes.reduce((sum, n) => sum + n, 0) + Math.max(0, sizes.length - 1);

/** Wire bytes of one `AttributeValue`, `{"S":"…"}` and so on. */
export function attributeValueWireBytes(value: AttributeValue): number {
  // `{"T":` + X + `}` = X + 4 + length of the type tag with its quotes.
  if (value.S !== undefined) return 6 + jsonStringBytes(value.S);
  if (value.N !== undefined) return 6 + jsonStringBytes(value.N);
  if (value.B !== undefined) return 6 + base64Bytes(value.B.byteLength) + 2;
  if (value.BOOL !== undefined) return 9 + (value.BOOL ? 4 : 5);
  if (value.NULL !== undefined) return 9 + 4;
  if (value.SS !== undefined) return 7 + listBytes(value.SS.map(jsonStringBytes));
  if (value.NS !== undefined) return 7 + listBytes(value.NS.map(jsonStringBytes));
  if (value.BS !== undefined) return 7 + listBytes(value.BS.map((b) => base64Bytes(b.byteLength) + 2));
  if (value.L !== undefined) return 6 + listBytes(value.L.map(attributeValueWireBytes));
  if (value.M !== undefined) return 6 + itemWireBytes(value.M);
  return 2;
}

/** Wire bytes of an attribute map (an item or a key): `{"name":{…},…}`. */
export function itemWireBytes(item: Record<string, AttributeValue>): number {
  const entries = Object.entries(item);
  let sum = 2 + Math.max(0, entries.length - 1);
  for (const [name, v] of entries) sum += jsonStringBytes(name) + 1 + attributeValueWireBytes(v);
  return sum;
}

/** `{"PutRequest":{"Item":` … `}}` */
export const PUT_REQUEST_WIRE_OVERHEAD = '{"PutRequest":{"Item":}}'.length;
/** `{"DeleteRequest":{"Key":` … `}}` */
export const DELETE_REQUEST_WIRE_OVERHEAD = '{"DeleteRequest":{"Key":}}'.length;
/** What a table adds to a request body: `"name":[` … `],` */
export const tableWireBytes = (table: string): number => jsonStringBytes(table) + 4;
