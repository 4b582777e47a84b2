// Byte counts and rates for people: 1.5 MiB, 12.0 MiB/s.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** `n` bytes in binary units with one decimal (whole bytes below 1 KiB). */
export function humanSize(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${UNITS[u]}`;
}

/** A transfer rate from bytes and milliseconds. */
export function humanRate(bytes: number, ms: number): string {
  return `${humanSize(Math.round((bytes * 1000) / Math.max(ms, 1)))}/s`;
}
