import { describe, expect, it } from "vitest";
import { apply, complete, field, keysOf, runIdsIn } from "./complete";
import { cellValue, defaultColumns, orderBy, parseColumn, sortField } from "./columns";
import { bytes, duration, num, tickLabels, toNumber } from "./format";
import { href, joinList, match, splitList } from "./route";
import { align, alignBinned, joinByStep, needsTimestamps, smooth, xMetric, xValues } from "./series";
import type { Run } from "./api";

const keys = { params: ["lr", "optimizer"], metrics: ["acc", "val/loss", "my metric"], tags: ["team"] };

describe("completion of the search grammar", () => {
  it("offers fields for a prefix, quoting keys with spaces", () => {
    const c = complete("metrics.", 8, keys);
    expect(c.items.map((i) => i.label)).toEqual(["metrics.acc", "metrics.val/loss", "metrics.`my metric`"]);
    expect(c.from).toBe(0);
  });
  it("offers operators after a field and keywords after a comparison", () => {
    expect(complete("params.lr ", 10, keys).items.map((i) => i.label)).toContain(">=");
    const after = complete("params.lr = '0.1' ", 18, keys).items.map((i) => i.label);
    expect(after).toEqual(["AND", "OR"]); // a complete condition is followed by a joiner, not a field
  });
  it("matches case-insensitively inside parentheses and applies the choice", () => {
    const text = "(METRICS.A";
    const c = complete(text, text.length, keys);
    expect(c.items[0].label).toBe("metrics.acc");
    expect(apply(text, c, c.items[0])).toEqual({ text: "(metrics.acc ", cursor: 13 });
  });
  it("does not offer a keyword right after AND", () => {
    const labels = complete("metrics.acc > 1 AND ", 20, keys).items.map((i) => i.label);
    expect(labels).not.toContain("AND");
  });
  it("collects keys from runs", () => {
    const runs = [{ params: { b: "1" }, metrics: { z: 1 }, tags: {} }, { params: { a: "2" }, metrics: {}, tags: { t: "x" } }];
    expect(keysOf(runs)).toEqual({ params: ["a", "b"], metrics: ["z"], tags: ["t"] });
    expect(field("tags", "a b")).toBe("tags.`a b`");
    expect(runIdsIn(["ab", "cd"])).toBe("run_id IN ('ab', 'cd')");
  });
});

const run: Run = {
  id: "r1", experiment_id: 1, name: "first", status: "FINISHED", start_time: 1000, end_time: 4000, parent_id: null,
  user: "ana", notes: "", lifecycle: "active", params: { lr: "0.1" }, tags: { team: "x" },
  metrics: { acc: { last: 0.5, step: 3, timestamp: 1, min: 0.1, max: 0.6, count: 4 }, bad: { last: "NaN", step: 0, timestamp: 0, min: "NaN", max: "NaN", count: 1 } },
};

describe("runs table columns", () => {
  it("maps column ids to grammar fields and order_by clauses", () => {
    expect(parseColumn("m:val/loss")).toEqual({ kind: "m", key: "val/loss" });
    expect(parseColumn("start_time")).toEqual({ kind: "a", key: "start_time" });
    expect(sortField("duration")).toBeNull();
    expect(orderBy("-m:my metric")).toEqual(["metrics.`my metric` DESC"]);
    expect(orderBy("p:lr")).toEqual(["params.lr ASC"]);
    expect(orderBy("")).toEqual([]);
  });
  it("reads cell values", () => {
    expect(cellValue(run, "m:acc")).toBe(0.5);
    expect(Number.isNaN(cellValue(run, "m:bad") as number)).toBe(true);
    expect(cellValue(run, "p:lr")).toBe("0.1");
    expect(cellValue(run, "p:missing")).toBeNull();
    expect(cellValue(run, "duration")).toBe(3000);
  });
  it("picks default columns without system metrics", () => {
    expect(defaultColumns({ params: ["lr"], metrics: ["system/cpu", "acc"], tags: [] })).toEqual(["m:acc", "p:lr"]);
  });
});

describe("formatting", () => {
  it("formats numbers, durations, sizes", () => {
    expect(num(0.123456)).toBe("0.1235");
    expect(num(1234567)).toBe("1,234,567");
    expect(num(0.00001234)).toBe("1.234e-5");
    expect(num("NaN")).toBe("NaN");
    expect(duration(1500)).toBe("1.5 s");
    expect(duration(3_600_000 * 3 + 60_000)).toBe("3 h 1 min");
    expect(bytes(2048)).toBe("2.0 KiB");
    expect(toNumber("-Infinity")).toBe(-Infinity);
  });
});

describe("URL state", () => {
  it("builds and matches paths", () => {
    expect(href("/compare", { runs: "a,b", x: "", y: null })).toBe("/compare?runs=a%2Cb");
    expect(match("/models/:name/versions/:v", "/models/a%20b/versions/3")).toEqual({ name: "a b", v: "3" });
    expect(match("/models/:name", "/models/a/versions/3")).toBeNull();
  });
  it("round-trips lists with commas", () => {
    const items = ["m:a,b", "p:x%y", "t:z"];
    expect(splitList(joinList(items))).toEqual(items);
    expect(splitList("")).toEqual([]);
    expect(splitList("a,%E0,b%2C")).toEqual(["a", "%E0", "b,"]);
    expect(match("/runs/:id", "/runs/%E0%A4")).toEqual({ id: "%E0%A4" });
  });
});

describe("series", () => {
  it("smooths with a debiased moving average and skips NaN", () => {
    expect(smooth([1, 1, 1], 0.9)).toEqual([1, 1, 1]);
    const s = smooth([0, 10, NaN, 10], 0.5);
    expect(s[0]).toBe(0);
    expect(s[1]).toBeCloseTo(20 / 3);
    expect(Number.isNaN(s[2])).toBe(true);
    expect(smooth([3, 4], 0)).toEqual([3, 4]);
  });
  it("aligns series with different steps on one grid", () => {
    const [x, a, b] = align([{ x: [0, 2], y: [1, 3] }, { x: [1, 2], y: [5, NaN] }]);
    expect(x).toEqual([0, 1, 2]);
    expect(a).toEqual([1, null, 3]);
    expect(b).toEqual([null, 5, null]);
  });
  it("bins many series onto a shared grid keeping each bucket's extremes", () => {
    const a = { x: Array.from({ length: 100 }, (_, i) => i * 2), y: Array.from({ length: 100 }, (_, i) => (i === 50 ? 99 : 1)) };
    const b = { x: Array.from({ length: 100 }, (_, i) => i * 2 + 1), y: Array.from({ length: 100 }, () => 2) };
    const [x, ya, yb] = alignBinned([a, b], 10);
    expect(x).toHaveLength(20);
    expect(Math.max(...(ya.filter((v) => v !== null) as number[]))).toBe(99); // the spike survives
    expect(new Set(yb.filter((v) => v !== null))).toEqual(new Set([2]));
    expect(alignBinned([{ x: [0, 1], y: [1, 2] }], 10)).toEqual(align([{ x: [0, 1], y: [1, 2] }]));
    // by default, as many buckets as the longest series has points: 300 runs of 333 points
    const runs = Array.from({ length: 300 }, (_, r) => ({ x: Array.from({ length: 333 }, (_, i) => i * 15 + (r % 15)), y: Array.from({ length: 333 }, () => r) }));
    const [grid, ...ys] = alignBinned(runs);
    expect(grid).toHaveLength(666);
    expect(ys[299].filter((v) => v !== null).length).toBe(333); // each point in a slot of its own
  });
  it("computes relative and wall time axes", () => {
    expect(xValues("relative", [0, 1], [5000, 7000])).toEqual([0, 2]);
    expect(xValues("wall", [0], [5000])).toEqual([5]);
    expect(xValues("step", [4, 8], [0, 0])).toEqual([4, 8]);
    expect(xValues("step", [4, 8])).toEqual([4, 8]); // the server left the timestamps out
    expect([needsTimestamps("step"), needsTimestamps("metric:acc"), needsTimestamps("relative")]).toEqual([false, false, true]);
  });
  it("reads a metric x axis", () => {
    expect(xMetric("metric:val/acc")).toBe("val/acc");
    expect(xMetric("metric:")).toBeNull();
    expect(xMetric("step")).toBeNull();
  });
  it("pairs a metric with another by step, interpolating steps the other lacks, sorted by x", () => {
    const loss = { steps: [0, 1, 2, 3, 9], values: [0.9, 0.5, 0.4, 0.3, 0.1] };
    const acc = { steps: [1, 3, 5], values: [0.6, 0.8, 0.7] };
    // step 0 and 9 lie outside acc's steps (dropped); step 2 sits halfway between 1 and 3
    const joined = joinByStep(loss, acc);
    expect(joined.y).toEqual([0.5, 0.4, 0.3]);
    expect(joined.x[0]).toBeCloseTo(0.6);
    expect(joined.x[1]).toBeCloseTo(0.7);
    expect(joined.x[2]).toBeCloseTo(0.8);
    const unsorted = joinByStep({ steps: [1, 3, 5], values: [1, 2, 3] }, acc);
    expect(unsorted).toEqual({ x: [0.6, 0.7, 0.8], y: [1, 3, 2] });
  });
});

describe("tickLabels", () => {
  it("uses as many decimals as neighbouring ticks need", () => {
    expect(tickLabels([0.863, 0.8635, 0.864])).toEqual(["0.8630", "0.8635", "0.8640"]);
    expect(tickLabels([0, 0.2, 0.4])).toEqual(["0", "0.2", "0.4"]);
    expect(tickLabels([100, 200, 300])).toEqual(["100", "200", "300"]);
    expect(tickLabels([0.1 + 0.2, 0.4])).toEqual(["0.3", "0.4"]);
    expect(tickLabels([-0.5, 0, 0.5])).toEqual(["-0.5", "0", "0.5"]);
    expect(tickLabels([2e6, 4e6])).toEqual(["2.00e+6", "4.00e+6"]);
    expect(tickLabels([0, 2e-5, 4e-5])).toEqual(["0", "2.00e-5", "4.00e-5"]);
  });
});
