/** A byte count as people read it: "512 B", "3.2 KB", "1 MB" (a trailing ".0" is dropped). */
export function humanSize(bytes: number): string {
  const [value, unit] =
    bytes < 1024 ? [bytes, "B"] : bytes < 1024 * 1024 ? [bytes / 1024, "KB"] : [bytes / 1024 / 1024, "MB"];
  return `${unit === "B" ? value : value.toFixed(1).replace(/\.0$/, "")} ${unit}`;
}
