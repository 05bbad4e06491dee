const UNITS = ["KB", "MB", "GB", "TB"];

/** A byte count as people read it: "512 B", "3.2 KB", "1 MB", "4.7 GB" (a trailing ".0" is dropped). */
export function humanSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) (value /= 1024), unit++;
  return `${value.toFixed(1).replace(/\.0$/, "")} ${UNITS[unit]}`;
}
