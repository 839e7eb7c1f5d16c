/**
 * Which way a metric is better: lower for loss-like names (loss, error, mse, latency, ...),
 * higher otherwise; the user's choice per metric overrides it and is kept in the URL
 * (`?dir=val_loss:max,acc:min`, only where it differs from the default).
 */
import { joinList, splitList } from "./route";

export type Direction = "min" | "max";

/** Words anywhere in a name that make lower better (`val_loss`, `logloss`, `mean_squared_error`). */
const LOWER_WORDS = ["loss", "error", "perplexity", "latency", "regret", "distance", "divergence"];
/** Whole tokens that make lower better (`rmse`, `fit_time`, `p99_ms`), not parts of words. */
const LOWER_TOKENS = new Set([
  "err", "mse", "rmse", "mae", "mape", "smape", "msle", "rmsle", "nll", "ppl", "wer", "cer",
  "fpr", "fnr", "frr", "eer", "cost", "time", "duration", "seconds", "secs", "sec", "ms",
  "memory", "mem", "bytes", "size", "bpc", "bpd", "fid", "kl", "hamming", "brier",
]);

/** The direction a metric's name suggests (lower is better for loss-like names). */
export function defaultDirection(metric: string): Direction {
  const name = metric.toLowerCase();
  if (LOWER_WORDS.some((w) => name.includes(w))) return "min";
  const tokens = name.split(/[^a-z0-9]+|(?<=[a-z])(?=[0-9])/).filter(Boolean);
  return tokens.some((t) => LOWER_TOKENS.has(t)) ? "min" : "max";
}

/** The overrides in a `dir` URL parameter (`metric:min,other:max`); malformed entries are skipped. */
export function parseDirections(param: string): Map<string, Direction> {
  const out = new Map<string, Direction>();
  for (const item of splitList(param)) {
    const at = item.lastIndexOf(":");
    const dir = item.slice(at + 1);
    if (at > 0 && (dir === "min" || dir === "max")) out.set(item.slice(0, at), dir);
  }
  return out;
}

/** The `dir` URL parameter for these overrides (those equal to the default are left out). */
export function formatDirections(overrides: Map<string, Direction>): string {
  const items = [...overrides].filter(([metric, dir]) => dir !== defaultDirection(metric));
  return joinList(items.map(([metric, dir]) => `${metric}:${dir}`));
}

/** A metric's direction: the user's override, else the default for its name. */
export function directionOf(metric: string, overrides: Map<string, Direction>): Direction {
  return overrides.get(metric) ?? defaultDirection(metric);
}

/** The `dir` parameter after flipping one metric's direction. */
export function toggleDirection(param: string, metric: string): string {
  const overrides = parseDirections(param);
  overrides.set(metric, directionOf(metric, overrides) === "min" ? "max" : "min");
  return formatDirections(overrides);
}

/** Compare two values best-first; NaN and missing values sort last. */
export function bestFirst(dir: Direction): (a: number | null, b: number | null) => number {
  return (a, b) => {
    const aBad = a === null || Number.isNaN(a);
    const bBad = b === null || Number.isNaN(b);
    if (aBad || bBad) return aBad === bBad ? 0 : aBad ? 1 : -1;
    return dir === "min" ? a - b : b - a;
  };
}

/** The best and worst of some values (null when fewer than two are finite or all are equal). */
export function bestAndWorst(values: (number | null)[], dir: Direction): { best: number; worst: number } | null {
  const nums = values.filter((v): v is number => v !== null && Number.isFinite(v));
  if (nums.length < 2) return null;
  const lo = Math.min(...nums);
  const hi = Math.max(...nums);
  if (lo === hi) return null;
  return dir === "min" ? { best: lo, worst: hi } : { best: hi, worst: lo };
}
