// Hash functions of the collections: MurmurHash3 (x86, 32-bit) over key
// bytes, the same function over a JS string's char codes when the string is
// ASCII (so a string and its UTF-8 bytes hash alike without encoding), a
// finalizer for number keys, and FNV-1a for type fingerprints. Hashing a
// string or bytes key also packs it into u32 words (keyWords), which the
// lookup compares with the key block word by word.
//
// A map's seed lives in its header, so the hashes of its image stay valid
// after save/load; a random seed per map keeps adversarial keys from
// forcing long probe sequences across processes.

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

/**
 * Hash values 0 and 1 mark empty and deleted slots; hashes are mapped to
 * [2, 2^32). The hash functions return them as int32 bits (h | 0): a value
 * of 2^31 or more passed between functions would be a heap number, one JS
 * allocation per lookup. Stored in a Uint32Array they are the same bits;
 * compare them with a stored word read as `u32[i] | 0`.
 */
export const MIN_HASH = 2;

// One block of MurmurHash3: mixes the 4-byte word k into h.
function mixBlock(h: number, k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, C2);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

// Tail (up to 3 bytes in k), length, avalanche; the result is >= MIN_HASH as a u32, returned as int32 bits.
function finish(h: number, k: number, n: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  h ^= Math.imul(k, C2) ^ n;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h = (h ^ (h >>> 16)) >>> 0;
  return (h < MIN_HASH ? h + MIN_HASH : h) | 0;
}

let words = new Uint32Array(64);

// Makes room for the words of an n-byte key in the word scratch array.
function wordRoom(n: number): Uint32Array {
  if (words.length * 4 < n + 4) words = new Uint32Array(Math.max((n >>> 2) + 1, 2 * words.length));
  return words;
}

/**
 * Key words of the last hashBytes or hashAscii call: its bytes packed
 * little-endian into u32 words, the last one zero-padded, as key blocks
 * store them; shared by all collections and valid until the next call.
 */
export function keyWords(): Uint32Array {
  return words;
}

/**
 * Hash of bytes `src[off .. off + n)`; also packs them into keyWords().
 * Cost: O(n), no allocation (but the first time a key is longer than any before).
 */
export function hashBytes(src: Uint8Array, off: number, n: number, seed: number): number {
  const out = wordRoom(n);
  let h = seed | 0;
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const p = off + i;
    const k = src[p]! | (src[p + 1]! << 8) | (src[p + 2]! << 16) | (src[p + 3]! << 24);
    out[i >>> 2] = k;
    h = mixBlock(h, k);
  }
  let k = 0;
  for (let s = 0; i < n; i++, s += 8) k |= src[off + i]! << s;
  out[i >>> 2] = k;
  return finish(h, k, n);
}

/**
 * Hash of an ASCII string's bytes, equal to hashBytes of its UTF-8 encoding,
 * and its bytes packed into keyWords(); 0 (no hash is) if the string has a char code
 * above 0x7f (encode it, then hashBytes). Reads each char once: charCodeAt
 * costs about 1.5 ns, most of a short key's lookup.
 * Cost: O(length), no allocation.
 */
export function hashAscii(str: string, seed: number): number {
  const n = str.length;
  const out = wordRoom(n);
  let h = seed | 0;
  let any = 0; // OR of all char codes: one test at the end instead of one per char
  let i = 0;
  for (; i + 4 <= n; i += 4) {
    const c0 = str.charCodeAt(i), c1 = str.charCodeAt(i + 1), c2 = str.charCodeAt(i + 2), c3 = str.charCodeAt(i + 3);
    any |= c0 | c1 | c2 | c3;
    const k = c0 | (c1 << 8) | (c2 << 16) | (c3 << 24);
    out[i >>> 2] = k;
    h = mixBlock(h, k);
  }
  let k = 0;
  for (let s = 0; i < n; i++, s += 8) {
    const c = str.charCodeAt(i);
    any |= c;
    k |= c << s;
  }
  out[i >>> 2] = k;
  return any > 0x7f ? 0 : finish(h, k, n);
}

/** Hash of a 32-bit key (an u32 or i32 key's bits). */
export function hashWord(word: number, seed: number): number {
  return finish(mixBlock(seed | 0, word), 0, 4);
}

/** Hash of two 32-bit words (an f64 key's bits). */
export function hashWords(lo: number, hi: number, seed: number): number {
  return finish(mixBlock(mixBlock(seed | 0, lo), hi), 0, 8);
}

/** FNV-1a of a descriptor string's char codes: the type fingerprints stored in collection headers. */
export function fingerprint(descriptor: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < descriptor.length; i++) h = Math.imul(h ^ descriptor.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

let scratch = new Uint8Array(256);

/**
 * Encodes `str` as UTF-8 (a lone surrogate becomes U+FFFD, as TextEncoder
 * does) into a scratch array shared by all collections, valid until the
 * next call; returns the byte count. TextEncoder.encodeInto would allocate
 * its result object per call. Cost: O(length).
 */
export function encodeScratch(str: string): number {
  const n = str.length;
  if (scratch.length < 3 * n) scratch = new Uint8Array(Math.max(3 * n, 2 * scratch.length));
  const out = scratch;
  let j = 0;
  for (let i = 0; i < n; i++) {
    let c = str.charCodeAt(i);
    if (c < 0x80) {
      out[j++] = c;
    } else if (c < 0x800) {
      out[j++] = 0xc0 | (c >>> 6);
      out[j++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = i + 1 < n ? str.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && (d & 0xfc00) === 0xdc00) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          out[j++] = 0xf0 | (c >>> 18);
          out[j++] = 0x80 | ((c >>> 12) & 0x3f);
          out[j++] = 0x80 | ((c >>> 6) & 0x3f);
          out[j++] = 0x80 | (c & 0x3f);
          continue;
        }
        c = 0xfffd;
      }
      out[j++] = 0xe0 | (c >>> 12);
      out[j++] = 0x80 | ((c >>> 6) & 0x3f);
      out[j++] = 0x80 | (c & 0x3f);
    }
  }
  return j;
}

/** The scratch array encodeScratch wrote to (read it before the next call). */
export function scratchBytes(): Uint8Array {
  return scratch;
}
