import { describe, expect, it } from "vitest";
import { mlflowPath } from "./route";
import { bar, pretty, spanMs, spanRows, timeline, type Span } from "./traces";

describe("MLflow UI links map onto this app's pages", () => {
  const run = "0123456789abcdef0123456789abcdef";
  it.each([
    ["#/experiments/4", "/experiments/4"],
    ["#/experiments/4/runs", "/experiments/4"],
    [`#/experiments/4/runs/${run}`, `/runs/${run}`],
    [`#/experiments/4/runs/${run}/model-metrics`, `/runs/${run}`],
    [`#/experiments/4/runs/${run}/artifacts`, `/runs/${run}?tab=artifacts`],
    [`#/experiments/4/runs/${run}/artifacts/model/MLmodel`, `/runs/${run}?tab=artifacts&dir=model&path=model%2FMLmodel`],
    [`#/experiments/4/runs/${run}/artifacts/a%20b.txt`, `/runs/${run}?tab=artifacts&path=a+b.txt`],
    [`#/experiments/4/runs/${run}/traces`, `/runs/${run}?tab=traces`],
    ["#/experiments/4/traces", "/experiments/4/traces"],
    ["#/experiments/4/traces/tr-abc", "/traces/tr-abc"],
    ["#/experiments/4/traces?selectedEvaluationId=tr-abc", "/traces/tr-abc"],
    ["#/experiments/4?compareRunsMode=TRACES&selectedTraceId=tr-x", "/traces/tr-x"],
    ["#/experiments", "/experiments"],
    ["#/models", "/models"],
    ["#/models/my%20model", "/models/my%20model"],
    ["#/models/clf/versions/3", "/models/clf/versions/3"],
    [`#/compare-runs?runs=["${run}","b2"]&experiments=["4"]`, `/compare?runs=${run}%2Cb2`],
    ["#/compare-runs?runs=not-json", "/compare"],
  ])("%s -> %s", (hash, want) => {
    expect(mlflowPath(hash)).toBe(want);
  });
  it.each(["", "#", "#section", "#/unknown/page", "#/experiments/abc"])("leaves %j alone", (hash) => {
    expect(mlflowPath(hash)).toBeNull();
  });
  it("keeps a crafted name inside one path segment", () => {
    expect(mlflowPath("#/models/..%2F..%2Fadmin")).toBe("/models/..%2F..%2Fadmin");
    expect(mlflowPath("#/experiments/4/runs/%2F%2Fevil.example")).toBe("/runs/%2F%2Fevil.example");
  });
});

function span(id: string, parent: string | null, start: number, end: number | null, name = id): Span {
  return {
    span_id: id, parent_id: parent, name, span_type: "UNKNOWN", start_ns: start, end_ns: end,
    status: "OK", status_message: "", inputs: null, outputs: null, attributes: {}, events: [],
  };
}

describe("the span tree and waterfall", () => {
  const spans = [span("c", "a", 30, 40), span("a", null, 0, 100), span("b", "a", 10, 20), span("d", "b", 12, 18)];
  it("orders parents before children, siblings by start, with depths", () => {
    expect(spanRows(spans).map((r) => [r.span.span_id, r.depth, r.children])).toEqual([
      ["a", 0, 2], ["b", 1, 1], ["d", 2, 0], ["c", 1, 0],
    ]);
  });
  it("hides the descendants of a collapsed span", () => {
    expect(spanRows(spans, new Set(["b"])).map((r) => r.span.span_id)).toEqual(["a", "b", "c"]);
    expect(spanRows(spans, new Set(["a"])).map((r) => r.span.span_id)).toEqual(["a"]);
  });
  it("treats a span with a missing or own parent as a root, and survives cycles", () => {
    const odd = [span("x", "gone", 5, 6), span("y", "y", 1, 2), span("p", "q", 0, 1), span("q", "p", 0, 1)];
    expect(spanRows(odd).map((r) => [r.span.span_id, r.depth])).toEqual([["y", 0], ["x", 0], ["p", 0], ["q", 1]]);
  });
  it("places bars on the shared timeline", () => {
    const [start, end] = timeline(spans);
    expect([start, end]).toEqual([0, 100]);
    expect(bar(spans[2], start, end)).toEqual({ left: 10, width: 10 });
    expect(bar(span("z", null, 50, 50), start, end)).toEqual({ left: 50, width: 0.5 });
    expect(bar(span("r", null, 90, null), start, end)).toEqual({ left: 90, width: 10 });
  });
  it("shows values as bounded pretty JSON and durations in ms", () => {
    expect(pretty({ a: [1] })).toBe('{\n  "a": [\n    1\n  ]\n}');
    expect(pretty("<script>")).toBe("<script>");
    expect(pretty("x".repeat(50), 10)).toBe("xxxxxxxxxx\n… (40 more characters)");
    expect(spanMs(span("m", null, 0, 2_500_000))).toBe("2.50 ms");
    expect(spanMs(span("m", null, 0, 1_500_000_000))).toBe("1.50 s");
    expect(spanMs(span("m", null, 0, null))).toBe("running");
  });
});
