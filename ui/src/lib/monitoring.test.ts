import { describe, expect, it } from "vitest";
import {
  conditionText,
  durationText,
  estimatedOnly,
  figureText,
  finite,
  healthSeries,
  hasPoints,
  kindOf,
  labelledCounts,
  latest,
  listOf,
  normalizeDistribution,
  normalizeDrift,
  previousSpan,
  qualityFigures,
  qualitySeries,
  query,
  ruleState,
  silencedNow,
  sortDrift,
  sortFirings,
  spanOf,
  type DriftColumn,
  type Firing,
  type HealthPoint,
  type QualityPoint,
} from "./monitoring";

const point = (start_ms: number, version: number | null, realized: Record<string, number | null>, estimated: Record<string, number | null> = {}, labelled = 0, predictions = 10): QualityPoint => ({
  start_ms, version, segment: null, predictions, labelled, realized, estimated,
});

describe("figures and no data", () => {
  it("treats anything but a finite number as no data", () => {
    expect(finite(0)).toBe(0);
    expect(finite(0.5)).toBe(0.5);
    for (const x of [null, undefined, Number.NaN, Infinity, "0.9", true, {}]) expect(finite(x)).toBeNull();
  });
  it("writes no data as a dash, never as 0", () => {
    expect(figureText(null)).toBe("—");
    expect(figureText(undefined, "percent")).toBe("—");
    expect(figureText("NaN", "ms")).toBe("—");
    expect(figureText(0)).toBe("0");
    expect(figureText(0, "percent")).toBe("0%");
    expect(figureText(0.91234)).toBe("0.9123");
    expect(figureText(0.9995, "percent")).toBe("99.95%");
    expect(figureText(12.345, "ms")).toBe("12.3 ms");
    expect(figureText(1234.5, "ms")).toBe("1,235 ms");
    expect(figureText(12.5, "rps")).toBe("12.5/s");
    expect(figureText(1234, "count")).toBe("1,234");
    expect(kindOf("latency_p99_ms")).toBe("ms");
    expect(kindOf("error_rate")).toBe("percent");
    expect(kindOf("accuracy")).toBe("plain");
  });
  it("builds queries without empty values and reads list answers of either shape", () => {
    expect(query({ window: "1h", since: 5, version: null, until: undefined, segment: "" })).toBe("?window=1h&since=5");
    expect(query({})).toBe("");
    expect(query({ deployment: "a&b=c" })).toBe("?deployment=a%26b%3Dc");
    expect(listOf([1, 2], "rules")).toEqual([1, 2]);
    expect(listOf({ rules: [3] }, "rules")).toEqual([3]);
    expect(listOf({ rules: "x" }, "rules")).toEqual([]);
    expect(listOf(null, "rules")).toEqual([]);
  });
});

describe("quality over time", () => {
  it("names the figures of each task", () => {
    expect(qualityFigures("classification").slice(0, 2)).toEqual(["accuracy", "f1"]);
    expect(qualityFigures("regression")).toEqual(["mae", "rmse", "r2"]);
    expect(qualityFigures(null, [point(0, 1, { mae: 1 }, { estimated_foo: 2 })])).toEqual(["foo", "mae"]);
  });
  it("puts realized and estimated lines of each version on one grid of window starts", () => {
    const points = [
      point(7_200_000, 2, { accuracy: 0.8 }, { estimated_accuracy: 0.82 }, 5),
      point(3_600_000, 1, { accuracy: 0.9 }, { estimated_accuracy: 0.88 }, 5),
      point(7_200_000, 1, { accuracy: null }, { estimated_accuracy: 0.87 }, 0),
    ];
    const c = qualitySeries(points, "accuracy");
    expect(c.x).toEqual([3600, 7200]);
    expect(c.series.map((s) => s.label)).toEqual(["realized v1", "estimated v1", "realized v2", "estimated v2"]);
    expect(c.ys).toEqual([
      [0.9, null], // no realized accuracy in v1's second window: a gap, not 0
      [0.88, 0.87],
      [null, 0.8],
      [null, 0.82],
    ]);
    expect(hasPoints(c)).toBe(true);
  });
  it("leaves out a line with no value at all, and segment rows", () => {
    const c = qualitySeries([point(0, 1, { mae: 1.5 }), { ...point(0, 1, { mae: 9 }), segment: "x=a" }], "mae");
    expect(c.series.map((s) => s.label)).toEqual(["realized v1"]);
    expect(c.ys).toEqual([[1.5]]);
    const none = qualitySeries([point(0, 1, { accuracy: null })], "accuracy");
    expect(none.series).toEqual([]);
    expect(hasPoints(none)).toBe(false);
    expect(qualitySeries([point(0, null, { accuracy: 1 })], "accuracy").series[0].label).toBe("realized all");
  });
  it("counts labelled predictions per version and says when only estimates exist", () => {
    const points = [point(0, 1, {}, {}, 0, 10), point(60_000, 1, {}, {}, 0, 5), point(0, 2, {}, {}, 0, 3)];
    expect(labelledCounts(points)).toEqual([
      { version: 1, predictions: 15, labelled: 0 },
      { version: 2, predictions: 3, labelled: 0 },
    ]);
    expect(estimatedOnly(points)).toBe(true);
    expect(estimatedOnly([...points, point(0, 2, {}, {}, 1, 1)])).toBe(false);
    expect(estimatedOnly([])).toBe(false); // nothing logged: not "estimated only"
    expect(labelledCounts([{ ...point(0, 1, {}), predictions: -4, labelled: Number.NaN }])).toEqual([{ version: 1, predictions: 0, labelled: 0 }]);
  });
  it("takes the latest window that has the figure", () => {
    const points = [point(0, 1, { accuracy: 0.7 }), point(60_000, 1, { accuracy: null }, { estimated_accuracy: 0.6 }), point(60_000, 2, { accuracy: 0.5 })];
    expect(latest(points, "accuracy", 1)).toBe(0.7);
    expect(latest(points, "accuracy", 1, true)).toBe(0.6);
    expect(latest(points, "accuracy", null)).toBe(0.5);
    expect(latest(points, "f1", null)).toBeNull();
  });
});

describe("service health", () => {
  it("keeps windows with no data as gaps", () => {
    const p = (start_ms: number, p99: number | null): HealthPoint => ({
      start_ms, requests: 1, errors: 0, error_rate: 0, throughput_rps: 1, latency_p50_ms: null, latency_p90_ms: null, latency_p99_ms: p99, availability: null,
    });
    const c = healthSeries([p(600_000, 12), p(300_000, null)], ["latency_p50_ms", "latency_p99_ms"]);
    expect(c.x).toEqual([300, 600]);
    expect(c.ys).toEqual([[null, null], [null, 12]]);
    expect(hasPoints(healthSeries([p(0, null)], ["availability"]))).toBe(false);
  });
});

const col = (column: string, drifted: boolean): DriftColumn => ({
  column, kind: "numeric", method: "ks", score: 0.1, threshold: 0.05, p_value: null, drifted,
  missing_reference: null, missing_current: null, out_of_range: null, distribution: null, note: "",
});

describe("drift", () => {
  it("sorts drifted columns first, then by name", () => {
    expect(sortDrift([col("b", false), col("z", true), col("a", false), col("c", true)]).map((c) => c.column)).toEqual(["c", "z", "a", "b"]);
  });
  it("reads the report defensively: unknown fields are no data, the order is drifted first", () => {
    const d = normalizeDrift({
      deployment: "churn",
      drifted_share: 0.5,
      dataset_drift: true,
      columns: [
        { column: "age", kind: "numeric", method: "wasserstein", score: 0.02, threshold: 0.1, drifted: false, missing: { reference: 0, current: 0.25 } },
        { column: "<b>x</b>", kind: "numeric", method: "ks", score: "NaN", threshold: 0.05, p_value: 0.001, drifted: true, out_of_range: 0.4 },
        { name: "city", drifted: "yes" },
      ],
      schema: [{ column: "new", change: "added" }, { column: "age2", change: "type_changed", reference_type: "double", current_type: "string" }],
    });
    expect(d.columns.map((c) => c.column)).toEqual(["<b>x</b>", "age", "city"]);
    expect(d.columns[0].score).toBeNull();
    expect(d.columns[0].out_of_range).toBe(0.4);
    expect(d.columns[1].missing_current).toBe(0.25);
    expect(d.columns[1].missing_reference).toBe(0);
    expect(d.columns[2].drifted).toBe(false); // only `true` is drifted
    expect(d.drifted_share).toBe(0.5);
    expect(d.reference).toEqual({});
    expect(normalizeDrift({ reference: "profile", n_reference: 10, n_current: 5 })).toMatchObject({ reference: { kind: "profile" }, n_reference: 10, n_current: 5 });
    expect(normalizeDrift({ reference: { kind: "window", rows: 7 }, current: { rows: 3 }, n_reference: 99 })).toMatchObject({ n_reference: 7, n_current: 3 });
    expect(d.schema).toEqual([
      { column: "new", change: "added", detail: "" },
      { column: "age2", change: "type_changed", detail: "double → string" },
    ]);
    const empty = normalizeDrift("nonsense");
    expect(empty.columns).toEqual([]);
    expect(empty.drifted_share).toBeNull();
    expect(normalizeDrift({ columns: { a: { drifted: true }, b: {} } }).drifted_share).toBe(0.5);
  });
  it("puts reference and current on the same bins, as shares", () => {
    const bins = normalizeDistribution({ edges: [0, 1, 2], reference: [3, 1], current: [0, 2] })!;
    expect(bins.kind).toBe("bins");
    expect(bins.labels).toEqual(["0 – 1", "1 – 2"]);
    expect(bins.reference).toEqual([0.75, 0.25]);
    expect(bins.current).toEqual([0, 1]);
    const cats = normalizeDistribution({ categories: ["a", "other"], reference: [0.5, 0.5], current: [1] })!;
    expect(cats.kind).toBe("categories");
    expect(cats.current).toEqual([1, 0]);
    // the drift module's shape: a categorical's last cell holds every other category
    const other = normalizeDistribution({ edges: [], categories: ["a", "b"], reference: [0.5, 0.25, 0.25], current: [0.1, 0.1, 0.8], other: true })!;
    expect(other.kind).toBe("categories");
    expect(other.labels).toEqual(["a", "b", "other"]);
    const numeric = normalizeDistribution({ edges: [0, 1, 2, 3], categories: [], reference: [0.5, 0.5, 0], current: [0, 0.5, 0.5], other: false })!;
    expect(numeric.kind).toBe("bins");
    expect(numeric.labels).toEqual(["0 – 1", "1 – 2", "2 – 3"]);
    expect(normalizeDistribution({ edges: [], categories: [], reference: [], current: [], other: false })).toBeNull();
    const nested = normalizeDistribution({ reference: { edges: [0, 5, 10], counts: [1, 1] }, current: { counts: [2, "x"] } })!;
    expect(nested.labels).toEqual(["0 – 5", "5 – 10"]);
    expect(nested.current).toEqual([1, 0]);
    expect(normalizeDistribution(null)).toBeNull();
    expect(normalizeDistribution({ reference: [], current: [] })).toBeNull();
    expect(normalizeDistribution({ reference: [0, 0], current: [-1, 0] })!.current).toEqual([0, 0]);
  });
});

describe("alerts", () => {
  const rule = { metric: "error_rate", op: ">", threshold: 0.05, window_s: 300, for_s: 120 };
  it("words a rule's condition", () => {
    expect(conditionText(rule)).toBe("error_rate > 0.05 over 5m for 2m");
    expect(conditionText({ ...rule, for_s: 0, window_s: 86400 })).toBe("error_rate > 0.05 over 1d");
    expect(durationText(90)).toBe("90s");
    expect(durationText(null)).toBe("—");
  });
  it("shows no_data from the status, and an unknown state as unknown", () => {
    expect(ruleState({ state: "ok", status: "no_data" })).toBe("no_data");
    expect(ruleState({ state: "firing" })).toBe("firing");
    expect(ruleState({ state: "<img>" })).toBe("unknown");
  });
  it("knows when a silence is over", () => {
    expect(silencedNow({ silenced_until: 2000 }, 1000)).toBe(true);
    expect(silencedNow({ silenced_until: 500 }, 1000)).toBe(false);
    expect(silencedNow({ silenced_until: null }, 1000)).toBe(false);
  });
  it("lists open firings first, newest first", () => {
    const f = (id: number, started_at: number, status: string) => ({ id, started_at, status }) as Firing;
    expect(sortFirings([f(1, 10, "resolved"), f(2, 5, "firing"), f(3, 20, "resolved"), f(4, 7, "acknowledged")]).map((x) => x.id)).toEqual([4, 2, 3, 1]);
  });
});

describe("spans", () => {
  it("ends a span now and puts the reference window just before it", () => {
    expect(spanOf("1h", 10_000_000)).toEqual({ since: 6_400_000, until: 10_000_000 });
    expect(previousSpan("1h", 10_000_000)).toEqual({ since: 2_800_000, until: 6_400_000 });
    expect(spanOf("bogus", 100_000_000).since).toBe(100_000_000 - 86_400_000);
  });
});
