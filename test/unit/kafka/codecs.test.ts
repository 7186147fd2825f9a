import { randomBytes } from 'node:crypto';
import kafkajs from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../shared/errors.ts';
import {
  CodecError,
  compressionFromEnv,
  lz4Compress,
  lz4Decompress,
  registerCodecs,
  snappyCompress,
  snappyDecompress,
} from '../../../shared/kafka/codecs.ts';

// Through the default export: Node's CommonJS named-export detection does not see these two.
const { CompressionCodecs, CompressionTypes } = kafkajs;

const json = Buffer.from(
  JSON.stringify(
    Array.from({ length: 3000 }, (_, i) => ({ i, note: 'douleurs thoraciques '.repeat(i % 7) })),
  ),
);
const inputs: [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['one byte', Buffer.from('x')],
  ['short text', Buffer.from('{"eventType":"appointment.appointment.confirmed"}')],
  ['JSON over several 64 KB blocks', json],
  ['incompressible bytes', randomBytes(150_000)],
];

/** Every match of an LZ4 block as [start in the decoded block, length], by walking its sequences. */
const lz4Matches = (block: Buffer): [number, number][] => {
  const matches: [number, number][] = [];
  let at = 0;
  let decoded = 0;
  while (at < block.length) {
    const token = block[at++] as number;
    let literals = token >> 4;
    if (literals === 15) for (let b = 255; b === 255; literals += b) b = block[at++] as number;
    at += literals;
    decoded += literals;
    if (at >= block.length) break;
    at += 2;
    let length = (token & 15) + 4;
    if ((token & 15) === 15) for (let b = 255; b === 255; length += b) b = block[at++] as number;
    matches.push([decoded, length]);
    decoded += length;
  }
  return matches;
};

describe('lz4 (Kafka: the LZ4 frame format)', () => {
  it.each(inputs)('round-trips %s', (_name, input) => {
    expect(lz4Decompress(lz4Compress(input)).equals(input)).toBe(true);
  });

  it('writes what the Java client reads: version 1, independent 64 KB blocks, no checksums', () => {
    const frame = lz4Compress(json);
    expect(frame.readUInt32LE(0)).toBe(0x184d2204);
    expect(frame[4]).toBe(0x60);
    expect(frame[5]).toBe(0x40);
  });

  it('splits the input into 64 KB blocks, each keeping the block end rules', () => {
    const frame = lz4Compress(json);
    let at = 7;
    let blocks = 0;
    for (let word = frame.readUInt32LE(at); word !== 0; word = frame.readUInt32LE(at)) {
      const size = word & 0x7fffffff;
      const block = frame.subarray(at + 4, at + 4 + size);
      const plain = Math.min(64 * 1024, json.length - blocks * 64 * 1024);
      if (!(word & 0x80000000)) {
        for (const [start, length] of lz4Matches(block)) {
          expect(start).toBeLessThanOrEqual(plain - 12);
          expect(start + length).toBeLessThanOrEqual(plain - 5);
        }
      }
      at += 4 + size;
      blocks++;
    }
    expect(blocks).toBe(Math.ceil(json.length / (64 * 1024)));
  });

  it.each([
    'aaaabbbaabaaaabbabababaaababaaaaaabaaaaabbbbaabbaabbaaaaabbbbbbabbbbb',
    'bbababbbbbababababbaaabaaaabbbabbbabbaaaaaabbbbbbbbba',
    'bbabaabbbbbaaabaababbbaabaaaaabba',
  ])('keeps the end rules on %s (lz4js alone starts a match 10 bytes before the end)', (text) => {
    const input = Buffer.from(text);
    const frame = lz4Compress(input);
    const word = frame.readUInt32LE(7);
    expect(word & 0x80000000).toBe(0); // compressed
    for (const [start, length] of lz4Matches(frame.subarray(11, 11 + word))) {
      expect(start).toBeLessThanOrEqual(input.length - 12);
      expect(start + length).toBeLessThanOrEqual(input.length - 5);
    }
    expect(lz4Decompress(frame).equals(input)).toBe(true);
  });

  it('rejects a frame with a bad header checksum or dependent blocks, as a CodecError', () => {
    const frame = lz4Compress(json);
    const badChecksum = Buffer.from(frame);
    badChecksum[6] = ((badChecksum[6] ?? 0) + 1) & 0xff;
    const dependent = Buffer.from(frame);
    dependent[4] = 0x40;
    expect(() => lz4Decompress(badChecksum)).toThrow(CodecError);
    expect(() => lz4Decompress(dependent)).toThrow(/dependent blocks/);
    expect(() => lz4Decompress(Buffer.from('not lz4'))).toThrow(CodecError);
  });
});

describe('snappy (Kafka: xerial framing from the Java client, raw from others)', () => {
  it.each(inputs)('round-trips %s', (_name, input) => {
    expect(snappyDecompress(snappyCompress(input)).equals(input)).toBe(true);
  });

  it('writes the xerial header and reads raw snappy too', async () => {
    const framed = snappyCompress(json);
    expect(framed.subarray(0, 8)).toEqual(Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]));
    const raw = Buffer.from((await import('snappyjs')).compress(new Uint8Array(json)));
    expect(snappyDecompress(raw).equals(json)).toBe(true);
  });
});

describe('registerCodecs', () => {
  it('gives kafkajs every codec, compressing and decompressing through its own interface', async () => {
    registerCodecs();
    registerCodecs(); // idempotent
    const table = CompressionCodecs as unknown as Record<
      number,
      () => { compress(e: { buffer: Buffer }): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> }
    >;
    for (const type of [
      CompressionTypes.GZIP,
      CompressionTypes.Snappy,
      CompressionTypes.LZ4,
      CompressionTypes.ZSTD,
    ]) {
      const codec = (table[type] as () => ReturnType<(typeof table)[number]>)();
      const packed = await codec.compress({ buffer: json });
      expect(packed.length).toBeLessThan(json.length);
      expect((await codec.decompress(packed)).equals(json)).toBe(true);
    }
  });
});

describe('compressionFromEnv', () => {
  it('reads KAFKA_COMPRESSION, case-insensitively, with the default when unset', () => {
    expect(compressionFromEnv({ KAFKA_COMPRESSION: 'ZSTD' })).toBe('zstd');
    expect(compressionFromEnv({}, 'lz4')).toBe('lz4');
  });

  it('rejects an unknown codec with a ConfigError naming the choices', () => {
    expect(() => compressionFromEnv({ KAFKA_COMPRESSION: 'brotli' })).toThrow(ConfigError);
    expect(() => compressionFromEnv({ KAFKA_COMPRESSION: 'brotli' })).toThrow(
      /none, gzip, snappy, lz4, zstd/,
    );
  });
});
