/**
 * A stored JSON document straight to the protobuf wire format of google.protobuf.Struct, without
 * building Struct / Value messages on the way. On a Load that the hot cache cannot answer (a cold
 * cache, a row changed elsewhere) building the message tree and encoding it was the largest part
 * of the server's CPU for the call (bench/RESULTS.md); walking the parsed JSON twice — once to
 * size every nested message, once to write it into one buffer — gives the same bytes.
 *
 * The bytes are protobuf-es's own for the same Struct — field order, map entries, a null as
 * `null_value: NULL_VALUE`, numbers as doubles (test/unit/struct-wire.test.ts compares them).
 * A value a Struct cannot carry (a number beyond a double's range, read back as Infinity) makes
 * it return undefined: the caller serves the row the slow way, which names the problem.
 *
 * google.protobuf.Struct: map<string, Value> fields = 1 (entries: key = 1, value = 2).
 * google.protobuf.Value: null_value = 1, number_value = 2, string_value = 3, bool_value = 4,
 * struct_value = 5, list_value = 6. google.protobuf.ListValue: repeated Value values = 1.
 */

/** A document as the bytes of a Struct; undefined when a value cannot be carried. */
export function encodeStruct(object: Record<string, unknown>): Buffer | undefined {
  const sizes: number[] = [];
  const size = measureStruct(object, sizes);
  if (size < 0) return undefined;
  const out = new Writer(Buffer.allocUnsafe(size), sizes);
  out.struct(object);
  return out.buffer;
}

/** The tag and length of a length-delimited field (number < 16) of `length` bytes. */
export function fieldHeader(field: number, length: number): Buffer {
  const out = new Writer(Buffer.allocUnsafe(1 + varintSize(length)), []);
  out.tag(field, 2);
  out.varint(length);
  return out.buffer;
}

/** `parts` as the payload of a length-delimited field: its length as a varint, then the bytes. */
export function lengthPrefixed(...parts: Uint8Array[]): Buffer {
  const length = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const out = new Writer(Buffer.allocUnsafe(varintSize(length) + length), []);
  out.raw(length, parts);
  return out.buffer;
}

const varintSize = (n: number) => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);
/** A length-delimited field of `size` bytes, with its one-byte tag and its length. */
const framed = (size: number) => 1 + varintSize(size) + size;

/**
 * The size of a Struct's body; pushes, in the order the writer meets them, every key's and
 * string's UTF-8 length and every nested message's body size. -1 when a value cannot be carried.
 */
function measureStruct(object: Record<string, unknown>, sizes: number[]): number {
  let size = 0;
  for (const key in object) {
    const at = sizes.length;
    sizes.push(Buffer.byteLength(key), 0);
    const value = measureValue(object[key], sizes);
    if (value < 0) return -1;
    sizes[at + 1] = value;
    size += framed(framed(sizes[at] as number) + framed(value));
  }
  return size;
}

/** The size of a Value's body (its one set field). */
function measureValue(value: unknown, sizes: number[]): number {
  switch (typeof value) {
    case "string": {
      const length = Buffer.byteLength(value);
      sizes.push(length);
      return framed(length);
    }
    case "number":
      return Number.isFinite(value) ? 9 : -1;
    case "boolean":
      return 2;
    case "object": {
      if (value === null) return 2;
      const at = sizes.length;
      sizes.push(0);
      let body = 0;
      if (Array.isArray(value)) {
        for (const item of value) {
          const itemAt = sizes.length;
          sizes.push(0);
          const itemSize = measureValue(item, sizes);
          if (itemSize < 0) return -1;
          sizes[itemAt] = itemSize;
          body += framed(itemSize);
        }
      } else {
        body = measureStruct(value as Record<string, unknown>, sizes);
        if (body < 0) return -1;
      }
      sizes[at] = body;
      return framed(body);
    }
    default:
      return -1; // JSON.parse yields nothing else
  }
}

/** Writes what measure* sized, reading the sizes back in the same order. */
class Writer {
  private next = 0;
  private at = 0;
  constructor(
    readonly buffer: Buffer,
    private readonly sizes: number[],
  ) {}

  struct(object: Record<string, unknown>): void {
    for (const key in object) {
      const keyLength = this.sizes[this.next++] as number;
      const valueSize = this.sizes[this.next++] as number;
      this.tag(1, 2);
      this.varint(framed(keyLength) + framed(valueSize));
      this.tag(1, 2);
      this.varint(keyLength);
      this.at += this.buffer.write(key, this.at, keyLength, "utf8");
      this.tag(2, 2);
      this.varint(valueSize);
      this.value(object[key]);
    }
  }

  private value(value: unknown): void {
    switch (typeof value) {
      case "string": {
        const length = this.sizes[this.next++] as number;
        this.tag(3, 2);
        this.varint(length);
        this.at += this.buffer.write(value, this.at, length, "utf8");
        return;
      }
      case "number":
        this.tag(2, 1);
        this.at = this.buffer.writeDoubleLE(value, this.at);
        return;
      case "boolean":
        this.tag(4, 0);
        this.buffer[this.at++] = value ? 1 : 0;
        return;
      default: {
        if (value === null) {
          this.tag(1, 0);
          this.buffer[this.at++] = 0;
          return;
        }
        const body = this.sizes[this.next++] as number;
        if (Array.isArray(value)) {
          this.tag(6, 2);
          this.varint(body);
          for (const item of value) {
            this.tag(1, 2);
            this.varint(this.sizes[this.next++] as number);
            this.value(item);
          }
        } else {
          this.tag(5, 2);
          this.varint(body);
          this.struct(value as Record<string, unknown>);
        }
      }
    }
  }

  raw(length: number, parts: Uint8Array[]): void {
    this.varint(length);
    for (const part of parts) {
      this.buffer.set(part, this.at);
      this.at += part.byteLength;
    }
  }

  tag(field: number, wireType: number): void {
    this.buffer[this.at++] = (field << 3) | wireType;
  }

  varint(n: number): void {
    while (n >= 0x80) {
      this.buffer[this.at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    this.buffer[this.at++] = n;
  }
}
