/**
 * Metrics read at scrape from figures some part of the service already keeps (nothing is counted
 * twice). A label-less one leaves its sample out while `read` has nothing — before the database
 * opens, without a cache, with the feed off…: it would otherwise show 0.
 */
import { Counter, Gauge, type Registry } from "prom-client";

export function scraped(registers: Registry[]) {
  return {
    /** A gauge: the figure now. */
    gauge: (name: string, help: string, read: () => number | undefined) =>
      new Gauge({
        name,
        help,
        registers,
        collect() {
          const value = read();
          if (value === undefined) this.remove();
          else this.set(value);
        },
      }),
    /** A counter: the running total some part keeps. */
    total: (name: string, help: string, read: () => number | undefined) =>
      new Counter({
        name,
        help,
        registers,
        collect() {
          this.reset();
          const value = read();
          if (value === undefined) this.remove();
          else this.inc(value);
        },
      }),
  };
}
