/** How figures, sizes, instants and durations read on the page. */
import { type Duration, durationMs, type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";

const integer = new Intl.NumberFormat("en-US");

export const count = (value: bigint | number): string => integer.format(value);

export function bytes(value: bigint | number): string {
  let n = Number(value);
  for (const unit of ["B", "KiB", "MiB", "GiB"]) {
    if (n < 1024 || unit === "GiB") return unit === "B" ? `${count(n)} B` : `${n.toFixed(n < 10 ? 1 : 0)} ${unit}`;
    n /= 1024;
  }
  return `${n} GiB`;
}

export function milliseconds(duration: Duration | undefined): string {
  if (duration === undefined) return "—";
  const ms = durationMs(duration);
  return ms < 10 ? `${ms.toFixed(1)} ms` : `${Math.round(ms)} ms`;
}

/** A span of time in the largest unit that keeps it readable ("3 h 5 min", "12 s"). */
export function span(ms: number): string {
  const abs = Math.abs(ms);
  if (abs < 60_000) return `${Math.round(abs / 1000)} s`;
  if (abs < 3_600_000) return `${Math.round(abs / 60_000)} min`;
  if (abs < 86_400_000) {
    const minutes = Math.round(abs / 60_000);
    const rest = minutes % 60;
    return rest === 0 ? `${Math.floor(minutes / 60)} h` : `${Math.floor(minutes / 60)} h ${rest} min`;
  }
  const hours = Math.round(abs / 3_600_000);
  const rest = hours % 24;
  return rest === 0 ? `${Math.floor(hours / 24)} d` : `${Math.floor(hours / 24)} d ${rest} h`;
}

/** "in 3 h" / "5 min ago", against this browser's clock. */
export function relative(date: Date): string {
  const ms = date.getTime() - Date.now();
  return ms >= 0 ? `in ${span(ms)}` : `${span(ms)} ago`;
}

/** An instant as local date and time, to the second. */
export function instant(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`
  );
}

export const dateOf = (timestamp: Timestamp | undefined): Date | undefined =>
  timestamp === undefined ? undefined : timestampDate(timestamp);
