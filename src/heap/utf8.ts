// UTF-8 length of a JS string without encoding it. See heap.ts for an overview.

/** Bytes TextEncoder would produce for `str` (a lone surrogate becomes U+FFFD, 3 bytes). Cost: O(length), no allocation. */
export function utf8Length(str: string): number {
  let n = 0;
  for (let i = 0; i < str.length; i++) {
    const c = str.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < str.length && (str.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}
