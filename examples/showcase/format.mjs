// Number formatting shared by the printed table (main.mjs) and the HTML
// report (report.mjs), so both show the same figures as the same text.

export const MIB = 1024 * 1024;

/** 5000000 -> "5,000,000". */
export function fmtInt(n) {
  return Math.round(n).toLocaleString("en-US");
}

/** Milliseconds as "8.05 s", "412 ms", "15.6 ms", "1.64 ms". */
export function fmtMs(ms) {
  if (ms >= 1000) return `${(ms / 1000).toFixed(2)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  return `${ms.toFixed(2)} ms`;
}

/** Operations per second as "1.75 M/s" or "812 k/s". */
export function fmtRate(perS) {
  if (perS >= 1e6) return `${(perS / 1e6).toFixed(2)} M/s`;
  if (perS >= 1e3) return `${Math.round(perS / 1e3)} k/s`;
  return `${Math.round(perS)} /s`;
}

/** Bytes as "23.5 GiB", "1,067 MiB", "42.3 MiB", "812 KiB" or "56 B". */
export function fmtBytes(b) {
  if (b >= 16 * 1024 * MIB) return `${(b / 1024 / MIB).toFixed(1)} GiB`;
  if (b >= 100 * MIB) return `${fmtInt(b / MIB)} MiB`;
  if (b >= MIB) return `${(b / MIB).toFixed(1)} MiB`;
  if (b >= 1024) return `${fmtInt(b / 1024)} KiB`;
  return `${fmtInt(b)} B`;
}

/** A ratio as "3.5×", "17×", "0.41×". */
export function fmtTimes(r) {
  if (!Number.isFinite(r)) return "–";
  if (r >= 10) return `${Math.round(r)}×`;
  if (r >= 1) return `${r.toFixed(1)}×`;
  return `${r.toFixed(2)}×`;
}

/** How offheap compares where smaller is better (times, bytes): "3.5× faster"/"3.5× less". */
export function fmtLess(mapValue, offValue, better, worse) {
  if (!(mapValue > 0 && offValue > 0)) return "";
  return mapValue >= offValue ? `${fmtTimes(mapValue / offValue)} ${better}` : `${fmtTimes(offValue / mapValue)} ${worse}`;
}

/** How offheap compares where larger is better (rates). */
export function fmtMore(mapValue, offValue) {
  if (!(mapValue > 0 && offValue > 0)) return "";
  return offValue >= mapValue ? `${fmtTimes(offValue / mapValue)} faster` : `${fmtTimes(mapValue / offValue)} slower`;
}
