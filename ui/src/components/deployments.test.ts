import { describe, expect, it } from "vitest";
import type { DeploymentStatus } from "../lib/api";
import { routingText } from "./DeploymentHistory";
import { count, keepRecent, millis, minus, percent, percentile, rpsSeries, sampleOf, windowOf } from "./liveFigures";
import { rolloutText } from "./Rollout";
import { sparkPoints } from "./Sparkline";
import { share, splitText } from "./TrafficBar";

const zero = () => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
/** latency buckets with `n` observations in the bucket whose upper bound is `ms` */
const at = (ms: number, n: number) => {
  const b = zero();
  b[[1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000].indexOf(ms)] = n;
  return b;
};

function status(instances: DeploymentStatus["instances"], rps: Record<string, number> = {}): DeploymentStatus {
  const stats: DeploymentStatus["stats"] = {};
  for (const [v, r] of Object.entries(rps)) {
    stats[v] = { instances: { ready: 1, loading: 0, failed: 0 }, load_errors: [], rps: r, requests: 0, errors: 0, error_rate: null, p50_ms: null, p99_ms: null };
  }
  return { instances, stats } as DeploymentStatus;
}

const report = (requests: number, errors: number, buckets: number[]) => ({ state: "ready" as const, error: null, rps: 0, requests, errors, latency_buckets: buckets });
const inst = (id: string, versions: Record<string, ReturnType<typeof report>>, stale = false) => ({ instance: id, url: "http://x", last_seen: 0, stale, versions });

describe("live figures of a deployment", () => {
  it("interpolates percentiles within a bucket as the server does", () => {
    expect(percentile(zero(), 0.5)).toBeNull();
    expect(percentile(at(10, 4), 0.5)).toBe(7.5); // 5..10 ms, half way
    expect(percentile(at(5000, 10), 0.99)).toBeCloseTo(4970);
    const open = zero();
    open[12] = 3;
    expect(percentile(open, 0.99)).toBe(5000); // the open last bucket answers its lower bound
  });
  it("takes everything as new when a process restarted (its counts fell)", () => {
    const then = { requests: 100, errors: 5, buckets: at(10, 100) };
    expect(minus({ requests: 130, errors: 6, buckets: at(10, 130) }, then)).toEqual({ requests: 30, errors: 1, buckets: at(10, 30) });
    const restarted = { requests: 7, errors: 0, buckets: at(2, 7) };
    expect(minus(restarted, then)).toBe(restarted);
    expect(minus(restarted, undefined)).toBe(restarted);
  });
  it("sums the window over live instances and leaves stale ones out", () => {
    const first = sampleOf(status([inst("a", { "1": report(100, 0, at(10, 100)) }), inst("b", { "1": report(50, 0, at(10, 50)) })]), 0);
    const last = sampleOf(
      status([inst("a", { "1": report(200, 10, at(10, 200)) }), inst("b", { "1": report(9999, 9999, at(10, 9999)) }, true), inst("c", { "1": report(20, 0, at(50, 20)) })]),
      30_000,
    );
    const w = windowOf([first, last], "1", 60_000)!;
    expect(w.requests).toBe(120); // a: +100, b: stale, c: new (all 20)
    expect(w.errors).toBe(10);
    expect(w.errorRate).toBeCloseTo(10 / 120);
    expect(w.p50).toBeCloseTo(8); // serving/rollouts.percentile gives 8.0 and 48.2 for these buckets
    expect(w.p99).toBeCloseTo(48.2);
    expect(w.seconds).toBe(30);
    expect(windowOf([first, last], "2", 60_000)?.requests).toBe(0);
  });
  it("has no window with one sample, and forgets samples older than it keeps", () => {
    const s = (t: number) => sampleOf(status([], { "1": t }), t);
    expect(windowOf([s(0)], "1", 60_000)).toBeNull();
    let kept = [s(0), s(1000)];
    kept = keepRecent(kept, s(70_000), 60_000);
    expect(kept.map((x) => x.at)).toEqual([70_000]);
    kept = keepRecent(kept, s(72_000), 60_000);
    expect(rpsSeries(kept, "1")).toEqual([70_000, 72_000]);
    expect(rpsSeries(kept, "2")).toEqual([0, 0]);
  });
  it("does not trust the numbers it is sent", () => {
    expect(count(-1)).toBe(0);
    expect(count("12")).toBe(0);
    expect(count(Number.NaN)).toBe(0);
    expect(count(3)).toBe(3);
    const odd = { requests: "many", errors: null, latency_buckets: "x" } as unknown as ReturnType<typeof report>;
    const sample = sampleOf(status([inst("a", { "1": odd })]), 0);
    expect(sample.counts.a["1"]).toEqual({ requests: 0, errors: 0, buckets: zero() });
    expect(share(250)).toBe(100);
    expect(share(-3)).toBe(0);
    expect(share("50")).toBe(0);
  });
  it("words shares and latencies", () => {
    expect(percent(0.125)).toBe("12.5%");
    expect(percent(0.0025)).toBe("0.25%");
    expect(percent(0)).toBe("0%");
    expect(percent(1)).toBe("100%");
    expect(percent(null)).toBe("—");
    expect(millis(0.84)).toBe("0.8 ms");
    expect(millis(1250)).toBe("1,250 ms");
    expect(millis(null)).toBe("—");
  });
});

describe("traffic, rollouts and history as text", () => {
  it("writes the split without idle versions", () => {
    expect(splitText([{ version: 1, weight: 90 }, { version: 2, weight: 10 }, { version: 3, weight: 0 }])).toBe("v1 90% · v2 10%");
    expect(splitText([])).toBe("no traffic");
    expect(routingText({ traffic: [{ version: 2, weight: 100 }], shadow: [3], warm: [1] })).toBe("v2 100%; shadow v3; warm v1");
    expect(routingText({})).toBe("");
  });
  it("names the canary step as k/n with its share", () => {
    const rollout = { strategy: "canary" as const, steps: [10, 25, 50, 100], interval_s: 60, max_error_rate_increase: 0.02, max_latency_ratio: 1.5, min_requests: 50 };
    const candidate = { version: 4, strategy: "canary" as const, phase: "stepping" as const, step: 1, step_started_at: 0, started_by: "ana", reason: "" };
    expect(rolloutText({ rollout, candidate })).toBe("v4 canary step 2/4 (25%)");
    expect(rolloutText({ rollout, candidate: { ...candidate, strategy: "blue-green", phase: "loading", step: 0 } })).toBe("v4 blue-green: loading");
    expect(rolloutText({ rollout, candidate: null })).toBe("");
  });
  it("draws a sparkline from the oldest value on the left, zero at the bottom", () => {
    expect(sparkPoints([], 100, 20)).toBe("");
    expect(sparkPoints([0, 5, 10], 100, 20)).toBe("0,19 50,10 100,1");
    expect(sparkPoints([0, 0], 10, 20)).toBe("0,19 10,19");
    expect(sparkPoints([Number.NaN, -2, 4], 10, 20)).toBe("0,19 5,19 10,1");
  });
});
