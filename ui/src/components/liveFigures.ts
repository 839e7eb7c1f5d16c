/** Live figures of a deployment from successive polls: requests/s, error rate and latency over a window. */
import type { DeploymentStatus } from "../lib/api";

/** Upper bounds (ms) of the latency buckets every serving process reports, the last one open
 * (`LATENCY_BOUNDS_MS` in serving/entities.py). */
export const LATENCY_BOUNDS_MS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, Infinity];

export interface Counts {
  requests: number;
  errors: number;
  buckets: number[];
}

/** What one poll saw: per live instance and version the cumulative counts, per version the rps. */
export interface Sample {
  at: number;
  rps: Record<string, number>;
  counts: Record<string, Record<string, Counts>>;
}

export interface Window {
  requests: number;
  errors: number;
  errorRate: number | null;
  p50: number | null;
  p99: number | null;
  seconds: number;
}

/** A count from the server: a finite number >= 0, else 0 (the server's answer is not trusted). */
export function count(value: unknown): number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0 ? value : 0;
}

function countsOf(doc: { requests?: unknown; errors?: unknown; latency_buckets?: unknown }): Counts {
  const raw = Array.isArray(doc.latency_buckets) ? doc.latency_buckets : [];
  return {
    requests: count(doc.requests),
    errors: count(doc.errors),
    buckets: LATENCY_BOUNDS_MS.map((_, i) => count(raw[i])),
  };
}

/** The sample a status answer gives (stale instances left out, as the server's own figures do). */
export function sampleOf(status: DeploymentStatus, at: number): Sample {
  const counts: Sample["counts"] = {};
  for (const inst of status.instances ?? []) {
    if (inst.stale) continue;
    const versions: Record<string, Counts> = {};
    for (const [v, report] of Object.entries(inst.versions ?? {})) versions[v] = countsOf(report);
    counts[inst.instance] = versions;
  }
  const rps: Record<string, number> = {};
  for (const [v, s] of Object.entries(status.stats ?? {})) rps[v] = count(s.rps);
  return { at, rps, counts };
}

/** What happened between two cumulative counts; all of `now` when the process restarted (counts fell). */
export function minus(now: Counts, then: Counts | undefined): Counts {
  if (!then || now.requests < then.requests || now.errors < then.errors) return now;
  return {
    requests: now.requests - then.requests,
    errors: now.errors - then.errors,
    buckets: now.buckets.map((b, i) => Math.max(b - (then.buckets[i] ?? 0), 0)),
  };
}

/** The `q` quantile (0..1) of a latency histogram in ms, interpolated within its bucket, as the server computes it. */
export function percentile(buckets: number[], q: number): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    const n = buckets[i];
    if (n && seen + n >= rank) {
      const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1];
      const upper = LATENCY_BOUNDS_MS[i];
      if (!Number.isFinite(upper)) return lower;
      return lower + ((upper - lower) * Math.max(rank - seen, 0)) / n;
    }
    seen += n;
  }
  return LATENCY_BOUNDS_MS[LATENCY_BOUNDS_MS.length - 2];
}

/** One version's requests, errors and latency between the oldest sample within `ms` of the latest and the latest;
 * null without two samples. */
export function windowOf(samples: Sample[], version: string, ms: number): Window | null {
  if (samples.length < 2) return null;
  const last = samples[samples.length - 1];
  const first = samples.find((s) => s.at >= last.at - ms) ?? last;
  if (first === last) return null;
  const sum: Counts = { requests: 0, errors: 0, buckets: LATENCY_BOUNDS_MS.map(() => 0) };
  for (const [inst, versions] of Object.entries(last.counts)) {
    const now = versions[version];
    if (!now) continue;
    const d = minus(now, first.counts[inst]?.[version]);
    sum.requests += d.requests;
    sum.errors += d.errors;
    d.buckets.forEach((b, i) => (sum.buckets[i] += b));
  }
  return {
    requests: sum.requests,
    errors: sum.errors,
    errorRate: sum.requests ? sum.errors / sum.requests : null,
    p50: percentile(sum.buckets, 0.5),
    p99: percentile(sum.buckets, 0.99),
    seconds: (last.at - first.at) / 1000,
  };
}

/** Keep the samples of the last `ms` (the page's memory for sparklines and windows). */
export function keepRecent(samples: Sample[], next: Sample, ms: number): Sample[] {
  return [...samples.filter((s) => s.at >= next.at - ms && s.at < next.at), next];
}

/** Requests/s of one version at each sample (0 where it was not reported). */
export function rpsSeries(samples: Sample[], version: string): number[] {
  return samples.map((s) => s.rps[version] ?? 0);
}

/** A share as a percentage for text: "12.5%", "0.25%", "0%". */
export function percent(rate: number | null | undefined): string {
  if (rate === null || rate === undefined || !Number.isFinite(rate)) return "—";
  const p = rate * 100;
  return `${Number(p.toFixed(Math.abs(p) < 1 ? 2 : 1))}%`;
}

/** Milliseconds for text: "0.8 ms", "12 ms", "1,250 ms". */
export function millis(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  return `${ms < 10 ? ms.toFixed(1) : Math.round(ms).toLocaleString("en-US")} ms`;
}

/** Requests per second for text. */
export function perSecond(rps: number | null | undefined): string {
  if (rps === null || rps === undefined || !Number.isFinite(rps)) return "—";
  return rps < 10 ? rps.toFixed(1) : Math.round(rps).toLocaleString("en-US");
}
