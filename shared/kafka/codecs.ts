import { promisify } from 'node:util';
import zlib from 'node:zlib';
import kafkajs, { type CompressionTypes } from 'kafkajs';
import lz4 from 'lz4js';
import xxh32 from 'lz4js/xxh32.js';
import snappy from 'snappyjs';
import { ConfigError, EventBusError } from '../errors.ts';

/**
 * The record-batch codecs Kafka has (gzip, snappy, lz4, zstd) for kafkajs, which implements gzip only and
 * throws KafkaJSNotImplemented on any other batch — which stops the whole consumer. Every codec here is pure
 * JavaScript or built into Node, so the producer layer ships no native binary (x64 and arm64 alike):
 * - snappy: snappyjs, with the xerial framing the Java client writes (snappy-java's SnappyOutputStream);
 * - lz4: lz4js's block codec inside the LZ4 *frame* format Kafka uses (KafkaLZ4BlockOutputStream:
 *   independent 64 KB blocks, no block checksums);
 * - zstd: node:zlib (Node ≥ 22.15 / 23.8).
 * https://kafka.apache.org/documentation/#recordbatch (attributes bits 0-2: the codec)
 */

type Codec = {
  compress(encoder: { buffer: Buffer }): Promise<Buffer>;
  decompress(buffer: Buffer): Promise<Buffer>;
};

export class CodecError extends EventBusError {
  constructor(codec: string, message: string) {
    super('MALFORMED_RECORD', `${codec}: ${message}`);
    this.name = 'CodecError';
  }
}

const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

// --- snappy (xerial framing) -------------------------------------------------------------------------------
// https://github.com/xerial/snappy-java/blob/master/src/main/java/org/xerial/snappy/SnappyCodec.java
const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
const XERIAL_HEADER_BYTES = 16; // magic, version (int32), compatible version (int32)
const XERIAL_BLOCK_BYTES = 32 * 1024; // SnappyOutputStream's default block size

export const snappyCompress = (input: Buffer): Buffer => {
  const header = Buffer.alloc(XERIAL_HEADER_BYTES);
  XERIAL_MAGIC.copy(header, 0);
  header.writeInt32BE(1, 8);
  header.writeInt32BE(1, 12);
  const parts: Buffer[] = [header];
  for (let at = 0; at < input.length || at === 0; at += XERIAL_BLOCK_BYTES) {
    const block = toBuffer(snappy.compress(input.subarray(at, at + XERIAL_BLOCK_BYTES)));
    const length = Buffer.alloc(4);
    length.writeInt32BE(block.length, 0);
    parts.push(length, block);
    if (input.length === 0) break;
  }
  return Buffer.concat(parts);
};

/** xerial-framed (the Java client) or raw snappy (librdkafka, kafkajs-snappy). */
export const snappyDecompress = (input: Buffer): Buffer => {
  if (input.length < XERIAL_HEADER_BYTES || !input.subarray(0, 8).equals(XERIAL_MAGIC)) {
    return toBuffer(snappy.uncompress(new Uint8Array(input)));
  }
  const parts: Buffer[] = [];
  let at = XERIAL_HEADER_BYTES;
  while (at < input.length) {
    if (at + 4 > input.length) throw new CodecError('snappy', 'truncated block length');
    const length = input.readInt32BE(at);
    at += 4;
    if (length < 0 || at + length > input.length) throw new CodecError('snappy', 'truncated block');
    parts.push(toBuffer(snappy.uncompress(new Uint8Array(input.subarray(at, at + length)))));
    at += length;
  }
  return Buffer.concat(parts);
};

// --- lz4 (frame format) ------------------------------------------------------------------------------------
// https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md
const LZ4_MAGIC = 0x184d2204;
const FLG_VERSION = 0x40;
const FLG_BLOCK_INDEPENDENCE = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const LZ4_BLOCK_SIZES: Record<number, number> = {
  4: 64 * 1024,
  5: 256 * 1024,
  6: 1024 * 1024,
  7: 4096 * 1024,
};
const LZ4_WRITE_BLOCK_ID = 4; // 64 KB, as the Java client
const LZ4_UNCOMPRESSED = 0x80000000;

const headerChecksum = (descriptor: Uint8Array): number =>
  (xxh32.hash(0, descriptor, 0, descriptor.length) >> 8) & 0xff;

/** The LZ4 block format's end rules: the last match starts at least 12 bytes before the end of the block. */
const LZ4_MF_LIMIT = 12;
const LZ4_MIN_MATCH = 4;

/**
 * One independent block (a fresh hash table, so no match reaches into an earlier block). lz4js may start a
 * match up to 10 bytes before the end, which its own decoder accepts but the reference one (the Java client,
 * librdkafka) rejects: so lz4js compresses all but the last 3 bytes, and those are added to the block's final
 * literal run. Returns 0 when the block does not compress.
 */
const compressLz4Block = (block: Uint8Array, out: Uint8Array, hashTable: Uint32Array): number => {
  const tail = 3; // lz4js starts matches up to 10 bytes before the end it is given: 10 + 3 > 12
  if (block.length <= LZ4_MF_LIMIT + LZ4_MIN_MATCH) return 0;
  hashTable.fill(0);
  const size = lz4.compressBlock(block, out, 0, block.length - tail, hashTable);
  if (size === 0) return 0;
  // Find the final sequence (literals only) and where its literals start in the block.
  let at = 0;
  let decoded = 0;
  for (;;) {
    const start = at;
    const token = out[at++] as number;
    let literals = token >> 4;
    if (literals === 15) for (let b = 255; b === 255; literals += b) b = out[at++] as number;
    at += literals;
    decoded += literals;
    if (at >= size) {
      // Rewrite it with the tail included.
      const run = block.subarray(decoded - literals, block.length);
      const header: number[] = [];
      if (run.length >= 15) {
        header.push(0xf0);
        let n = run.length - 15;
        for (; n >= 255; n -= 255) header.push(255);
        header.push(n);
      } else header.push(run.length << 4);
      out.set(header, start);
      out.set(run, start + header.length);
      return start + header.length + run.length;
    }
    at += 2; // offset
    let match = token & 0x0f;
    if (match === 15) for (let b = 255; b === 255; match += b) b = out[at++] as number;
    decoded += match + LZ4_MIN_MATCH;
  }
};

export const lz4Compress = (input: Buffer): Buffer => {
  const blockSize = LZ4_BLOCK_SIZES[LZ4_WRITE_BLOCK_ID] as number;
  const descriptor = Uint8Array.of(FLG_VERSION | FLG_BLOCK_INDEPENDENCE, LZ4_WRITE_BLOCK_ID << 4);
  const header = Buffer.alloc(7);
  header.writeUInt32LE(LZ4_MAGIC, 0);
  header.set(descriptor, 4);
  header[6] = headerChecksum(descriptor);
  const parts: Buffer[] = [header];
  const hashTable = new Uint32Array(1 << 16);
  const out = new Uint8Array(lz4.compressBound(blockSize) + 16);
  for (let at = 0; at < input.length; at += blockSize) {
    const block = input.subarray(at, at + blockSize);
    const size = compressLz4Block(block, out, hashTable);
    const length = Buffer.alloc(4);
    if (size === 0 || size >= block.length) {
      length.writeUInt32LE((LZ4_UNCOMPRESSED | block.length) >>> 0, 0);
      parts.push(length, Buffer.from(block));
    } else {
      length.writeUInt32LE(size, 0);
      parts.push(length, Buffer.from(out.subarray(0, size)));
    }
  }
  parts.push(Buffer.alloc(4)); // end mark
  return Buffer.concat(parts);
};

export const lz4Decompress = (input: Buffer): Buffer => {
  if (input.length < 7 || input.readUInt32LE(0) !== LZ4_MAGIC)
    throw new CodecError('lz4', 'not an LZ4 frame');
  const flg = input[4] as number;
  const bd = input[5] as number;
  if ((flg & 0xc0) !== FLG_VERSION) throw new CodecError('lz4', 'unsupported frame version');
  if (!(flg & FLG_BLOCK_INDEPENDENCE))
    throw new CodecError('lz4', 'dependent blocks (Kafka writes independent ones)');
  const maxBlock = LZ4_BLOCK_SIZES[(bd >> 4) & 0x07];
  if (!maxBlock) throw new CodecError('lz4', 'invalid block size');
  let at = 6 + (flg & FLG_CONTENT_SIZE ? 8 : 0);
  if (headerChecksum(input.subarray(4, at)) !== input[at]) throw new CodecError('lz4', 'bad header checksum');
  at += 1;
  const blockChecksum = (flg & FLG_BLOCK_CHECKSUM) !== 0;
  const parts: Buffer[] = [];
  const out = new Uint8Array(maxBlock);
  for (;;) {
    if (at + 4 > input.length) throw new CodecError('lz4', 'truncated frame');
    const word = input.readUInt32LE(at);
    at += 4;
    if (word === 0) break;
    const size = word & 0x7fffffff;
    if (size > maxBlock || at + size > input.length) throw new CodecError('lz4', 'truncated block');
    if (word & LZ4_UNCOMPRESSED) {
      parts.push(Buffer.from(input.subarray(at, at + size)));
    } else {
      const written = lz4.decompressBlock(input, out, at, size, 0);
      if (written > maxBlock) throw new CodecError('lz4', 'block larger than its declared size');
      parts.push(Buffer.from(out.subarray(0, written)));
    }
    at += size + (blockChecksum ? 4 : 0);
  }
  // A content checksum may follow (4 bytes); Kafka's writers do not set one, and the batch CRC covers the data.
  if (flg & FLG_CONTENT_CHECKSUM && at + 4 > input.length) throw new CodecError('lz4', 'truncated frame');
  return Buffer.concat(parts);
};

// --- registration ---
// Through the default export: Node's CommonJS named-export detection does not see these two.
const { CompressionCodecs, CompressionTypes: Types } = kafkajs;
// ------------------------------------------------------------------------------------------
const zstdCompress = promisify(zlib.zstdCompress);
const zstdDecompress = promisify(zlib.zstdDecompress);
const gzip = promisify(zlib.gzip);
const unzip = promisify(zlib.unzip);

const CODECS: Record<Exclude<CompressionTypes, CompressionTypes.None>, Codec> = {
  [Types.GZIP]: {
    compress: async ({ buffer }) => gzip(buffer),
    decompress: async (buffer) => unzip(buffer),
  },
  [Types.Snappy]: {
    compress: async ({ buffer }) => snappyCompress(buffer),
    decompress: async (buffer) => snappyDecompress(buffer),
  },
  [Types.LZ4]: {
    compress: async ({ buffer }) => lz4Compress(buffer),
    decompress: async (buffer) => lz4Decompress(buffer),
  },
  [Types.ZSTD]: {
    compress: async ({ buffer }) => zstdCompress(buffer),
    decompress: async (buffer) => zstdDecompress(buffer),
  },
};

/**
 * Makes every kafkajs client of this process read and write all of Kafka's codecs. kafkajs keeps one codec
 * table per process, so this is called wherever a client is built and does its work once.
 */
export const registerCodecs = (): void => {
  for (const [type, codec] of Object.entries(CODECS)) {
    const table = CompressionCodecs as unknown as Record<number, () => Codec>;
    table[Number(type)] = () => codec;
  }
};

export const COMPRESSION_NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CompressionName = (typeof COMPRESSION_NAMES)[number];

const BY_NAME: Record<CompressionName, CompressionTypes> = {
  none: Types.None,
  gzip: Types.GZIP,
  snappy: Types.Snappy,
  lz4: Types.LZ4,
  zstd: Types.ZSTD,
};

export const compressionType = (name: CompressionName): CompressionTypes => BY_NAME[name];

/** KAFKA_COMPRESSION, or the default chosen from docs/benchmarks.md. */
export const compressionFromEnv = (
  env: NodeJS.ProcessEnv = process.env,
  fallback: CompressionName = DEFAULT_COMPRESSION,
): CompressionName => {
  const value = env.KAFKA_COMPRESSION?.trim().toLowerCase();
  if (!value) return fallback;
  if (!(COMPRESSION_NAMES as readonly string[]).includes(value)) {
    throw new ConfigError(
      `KAFKA_COMPRESSION must be one of ${COMPRESSION_NAMES.join(', ')}; got "${value.slice(0, 20)}"`,
    );
  }
  return value as CompressionName;
};

/**
 * gzip (docs/benchmarks.md, row 6): on the catalog's ~1 KB events it takes 0.18× the broker bytes of no
 * compression, as zstd does (lz4 and snappy 0.29×); zstd published fastest (1.7× uncompressed, gzip 0.85×,
 * within that run's round-to-round spread). gzip is the default because every Kafka client reads it
 * out of the box, plain kafkajs included: a service still consuming with the seed's own kafkajs code would be
 * stopped by a zstd, lz4 or snappy batch (KafkaJSNotImplemented). Set KAFKA_COMPRESSION=zstd once every
 * consumer of the topics reads it.
 */
export const DEFAULT_COMPRESSION: CompressionName = 'gzip';
