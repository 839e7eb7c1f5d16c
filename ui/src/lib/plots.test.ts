import { describe, expect, it } from "vitest";
import { brushOver, brushSpan, formatBrushes, inBrush, parseBrushes, withBrush, type Brush } from "./brush";
import { stepAtOrBefore, stepsIn } from "./images";
import { isNumeric, scaleOf } from "./scales";

describe("brushes in the URL", () => {
  it("round-trips ranges and text values, odd names included", () => {
    const brushes: Brush[] = [
      { axis: "m:acc", lo: 0.5, hi: 0.91 },
      { axis: "m:loss:val,x", lo: -1e-7, hi: 2 },
      { axis: "p:optimizer", values: ["adam", "s|g]d,%"] },
    ];
    const text = formatBrushes(brushes);
    const url = new URLSearchParams({ brush: text }).toString();
    expect(parseBrushes(new URLSearchParams(url).get("brush")!)).toEqual(brushes);
  });
  it("leaves out malformed items and orders a range", () => {
    expect(parseBrushes("m:acc:x:1,p:lr:[%E0%A4%A]," + "m:acc:0.9:0.1")).toEqual([{ axis: "m:acc", lo: 0.1, hi: 0.9 }]);
  });
  it("keeps a run inside every bound, and replaces one axis's brush", () => {
    const b: Brush = { axis: "m:acc", lo: 0.5, hi: 0.9 };
    expect([0.5, 0.7, 0.9, "0.6"].map((v) => inBrush(b, v))).toEqual([true, true, true, true]);
    expect([0.49, 0.91, null, NaN, ""].map((v) => inBrush(b, v))).toEqual([false, false, false, false, false]);
    expect(inBrush({ axis: "p:o", values: ["adam"] }, "adam")).toBe(true);
    expect(inBrush({ axis: "p:o", values: ["adam"] }, "sgd")).toBe(false);
    const two = withBrush([b], "p:o", { axis: "p:o", values: ["sgd"] });
    expect(withBrush(two, "m:acc", null)).toEqual([{ axis: "p:o", values: ["sgd"] }]);
  });
  it("turns a drag into a range of values or the text values it covers", () => {
    const lin = scaleOf([0, 10]);
    expect(brushOver("m:x", lin, 0.8, 0.2)).toEqual({ axis: "m:x", lo: 2, hi: 8 });
    expect(brushSpan({ axis: "m:x", lo: 2, hi: 8 }, lin)).toEqual([0.2, 0.8]);
    const cat = scaleOf(["a", "b", "c"]);
    expect(brushOver("p:o", cat, 0.4, 1.2)).toEqual({ axis: "p:o", values: ["b", "c"] });
    expect(brushOver("p:o", cat, 0.1, 0.4)).toBeNull();
    expect(brushSpan({ axis: "p:o", values: ["a", "gone"] }, cat)).toEqual([0, 0]);
  });
});

describe("log scales", () => {
  it("places positive values by their power of ten and leaves out the rest", () => {
    const s = scaleOf([0.001, 0.1, 10, 0, -3], true);
    expect(s.pos(0.001)).toBe(0);
    expect(s.pos(0.1)).toBeCloseTo(0.5);
    expect(s.pos(10)).toBe(1);
    expect(s.pos(0)).toBeNull();
    expect(s.pos(-3)).toBeNull();
    expect(s.ticks.map((t) => t.label)).toEqual(["0.001", "0.01", "0.1", "1", "10"]);
    expect(scaleOf([0.0001, 0.00025]).ticks[0].label).toBe("1e-4");
    expect(s.invert(0.5)).toBeCloseTo(0.1);
    expect(scaleOf([1e-6, 1e7], true).ticks.map((t) => t.label)).toEqual(["1e-6", "1e-4", "0.01", "1", "100", "10,000", "1,000,000"]);
  });
  it("knows numbers from text", () => {
    expect(isNumeric(["0.01", 3, null])).toBe(true);
    expect(isNumeric(["adam", 1])).toBe(false);
    expect(isNumeric([null, NaN])).toBe(false);
  });
});

describe("image steps", () => {
  it("reads step files and finds the last step at or before the chosen one", () => {
    const files = ["step_10.png", "step_2.png", "step_x.png", "notes.txt"].map((path) => ({ path, is_dir: false, size: 1 }));
    expect(stepsIn([...files, { path: "step_3.png", is_dir: true, size: null }])).toEqual([2, 10]);
    expect(stepAtOrBefore([2, 10], 1)).toBeNull();
    expect(stepAtOrBefore([2, 10], 2)).toBe(2);
    expect(stepAtOrBefore([2, 10], 9)).toBe(2);
    expect(stepAtOrBefore([2, 10], 99)).toBe(10);
  });
});
