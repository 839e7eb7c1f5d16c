import { describe, expect, it } from "vitest";
import { bestAndWorst, bestFirst, defaultDirection, directionOf, formatDirections, parseDirections, toggleDirection } from "./direction";
import { tooltipRows } from "../components/chartTooltip";

describe("metric direction", () => {
  it("makes lower better for loss-like names", () => {
    for (const m of ["loss", "val_loss", "training_log_loss", "logloss", "test/error", "training_mean_squared_error", "rmse", "val_mae", "MAPE", "perplexity", "latency_p99", "fit_time", "predict_ms", "wer", "nll"]) {
      expect(defaultDirection(m), m).toBe("min");
    }
  });
  it("makes higher better otherwise, without matching parts of words", () => {
    for (const m of ["acc", "accuracy", "training_score", "training_f1_score", "roc_auc", "r2", "precision", "recall", "bleu", "timeliness", "messages", "examples"]) {
      expect(defaultDirection(m), m).toBe("max");
    }
  });
  it("reads and writes the URL parameter, keeping only what differs from the default", () => {
    const overrides = parseDirections("loss:max,acc:min,bad,x:sideways,a%2Cb:min,ratio:with:colon:min");
    expect([...overrides]).toEqual([["loss", "max"], ["acc", "min"], ["a,b", "min"], ["ratio:with:colon", "min"]]);
    expect(directionOf("loss", overrides)).toBe("max");
    expect(directionOf("val_loss", overrides)).toBe("min");
    overrides.set("rmse", "min"); // the default: not written
    expect(formatDirections(overrides)).toBe("loss:max,acc:min,a%2Cb:min,ratio:with:colon:min");
  });
  it("toggles one metric and drops an override that returns to the default", () => {
    expect(toggleDirection("", "loss")).toBe("loss:max");
    expect(toggleDirection("loss:max", "loss")).toBe("");
    expect(toggleDirection("loss:max", "acc")).toBe("loss:max,acc:min");
  });
  it("orders best first and finds the best and worst, NaN and missing last", () => {
    expect([3, null, 1, NaN, 2].sort(bestFirst("min"))).toEqual([1, 2, 3, null, NaN]);
    expect([3, 1, 2].sort(bestFirst("max"))).toEqual([3, 2, 1]);
    expect(bestAndWorst([0.2, 0.9, null, 0.5], "min")).toEqual({ best: 0.2, worst: 0.9 });
    expect(bestAndWorst([0.2, 0.9, 0.5], "max")).toEqual({ best: 0.9, worst: 0.2 });
    expect(bestAndWorst([0.5, 0.5], "max")).toBeNull();
    expect(bestAndWorst([0.5, null], "max")).toBeNull();
  });
});

describe("chart tooltip rows", () => {
  const labels = ["a", "b", "c", "d"];
  it("lists every series with a value, best first by direction", () => {
    const values = [10, 0.3, null, 0.1, 0.2]; // values[0] is x
    expect(tooltipRows(values, labels, "min", null).rows.map((r) => r.label)).toEqual(["c", "d", "a"]); // b has none
    expect(tooltipRows(values, labels, "max", null).rows.map((r) => r.label)).toEqual(["a", "d", "c"]);
  });
  it("keeps the focused series when it ranks beyond the limit, and counts the rest", () => {
    const { rows, more } = tooltipRows([0, 1, 2, 3, 4], labels, "max", 1, 2);
    expect(rows.map((r) => [r.label, r.focused])).toEqual([["d", false], ["c", false], ["a", true]]);
    expect(more).toBe(1);
  });
});
