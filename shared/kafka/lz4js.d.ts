/** lz4js ships its xxHash32 as a separate module, without types (https://github.com/Benzinga/lz4js). */
declare module 'lz4js/xxh32.js' {
  const xxh32: { hash(seed: number, src: Uint8Array, index: number, length: number): number };
  export default xxh32;
}
