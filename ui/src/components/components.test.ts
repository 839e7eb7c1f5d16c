import { describe, expect, it } from "vitest";
import { asMatrix, previewKind } from "./Previews";
import { scaleOf } from "../lib/scales";

describe("artifact previews", () => {
  it("picks a preview by file name", () => {
    expect(previewKind("plots/roc.PNG", 10)).toBe("image");
    expect(previewKind("data/part-0.parquet", 10)).toBe("table");
    expect(previewKind("report.html", 10)).toBe("html");
    expect(previewKind("eval/cm.json", 10)).toBe("json");
    expect(previewKind("MLmodel", 10)).toBe("text");
    expect(previewKind("model.skops", 10)).toBe("none");
  });
  it("recognises square count matrices only", () => {
    expect(asMatrix({ labels: ["a", "b"], matrix: [[1, 2], [3, 4]] })).toEqual({ labels: ["a", "b"], matrix: [[1, 2], [3, 4]] });
    expect(asMatrix([[1, 0], [0, 1]])?.labels).toEqual(["0", "1"]);
    expect(asMatrix([[1, 2, 3], [4, 5, 6]])).toBeNull();
    expect(asMatrix({ matrix: [["x"]] })).toBeNull();
    expect(asMatrix("text")).toBeNull();
  });
});

describe("plot scales", () => {
  it("is linear for numbers and categorical for text", () => {
    const lin = scaleOf([1, 3, null, "2"]);
    expect(lin.pos(1)).toBe(0);
    expect(lin.pos(2)).toBe(0.5);
    expect(lin.pos(null)).toBeNull();
    const cat = scaleOf(["adam", "sgd", "adam"]);
    expect(cat.pos("adam")).toBe(0);
    expect(cat.pos("sgd")).toBe(1);
    expect(cat.ticks.map((t) => t.label)).toEqual(["adam", "sgd"]);
  });
});
