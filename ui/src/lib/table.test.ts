import { describe, expect, it } from "vitest";
import { runsCsv } from "../components/RunActions";
import type { Run } from "./api";
import { defaultColumns } from "./columns";
import { apply, complete, keyCounts, quote, tokens, valueField } from "./complete";
import { csvCell, toCsv } from "./csv";
import { isControl } from "./keys";
import { nest } from "./nesting";

const keys = { params: ["lr", "optimizer"], metrics: ["acc", "loss"], tags: ["team"] };

describe("CSV export", () => {
  it("quotes cells with commas, quotes, line breaks and edge spaces", () => {
    expect(csvCell("plain")).toBe("plain");
    expect(csvCell('say "hi", then go')).toBe('"say ""hi"", then go"');
    expect(csvCell("two\nlines")).toBe('"two\nlines"');
    expect(csvCell(" padded")).toBe('" padded"');
    expect(csvCell(null)).toBe("");
    expect(csvCell(NaN)).toBe("NaN");
    expect(toCsv(["a", "b"], [[1, "x,y"]])).toBe('a,b\r\n1,"x,y"\r\n');
  });
  it("defuses cells a spreadsheet would run as formulas, but not numbers", () => {
    expect(csvCell('=HYPERLINK("http://evil.example","x")')).toBe(`"'=HYPERLINK(""http://evil.example"",""x"")"`);
    expect(csvCell("+1+cmd")).toBe("'+1+cmd");
    expect(csvCell("-2+3")).toBe("'-2+3");
    expect(csvCell("@SUM(A1)")).toBe("'@SUM(A1)");
    expect(csvCell("\t=1")).toBe("'\t=1");
    expect(csvCell("-0.5")).toBe("-0.5");
    expect(csvCell("+1e-3")).toBe("+1e-3");
    expect(csvCell(-0.5)).toBe("-0.5");
  });
  it("writes a run_id column, then the visible columns in their order, times as ISO 8601", () => {
    const run = {
      id: "r1", experiment_id: 1, name: "=cmd", status: "FINISHED", start_time: Date.UTC(2024, 0, 2, 3, 4, 5), end_time: Date.UTC(2024, 0, 2, 3, 4, 7),
      parent_id: null, user: "ann", notes: "", lifecycle: "active", params: { lr: "0.1" }, tags: {},
      metrics: { acc: { last: 0.25, step: 1, timestamp: 0, min: 0, max: 1, count: 2 } },
    } as Run;
    const text = runsCsv([run], ["name", "m:acc", "start_time", "duration", "p:lr", "t:team"]);
    expect(text).toBe("run_id,name,metrics.acc,start_time,duration_ms,params.lr,tags.team\r\nr1,'=cmd,0.25,2024-01-02T03:04:05.000Z,2000,0.1,\r\n");
  });
});

describe("default columns", () => {
  it("prefers the metrics and params most runs have", () => {
    const runs = [
      { params: { lr: "1" }, metrics: { zeta: 1, acc: 1 } },
      { params: { lr: "1", seed: "2" }, metrics: { zeta: 1 } },
      { params: { seed: "3" }, metrics: { zeta: 1, "system/cpu": 1 } },
    ];
    const k = { params: ["lr", "seed"], metrics: ["acc", "system/cpu", "zeta"], tags: [] };
    expect(defaultColumns(k, keyCounts(runs))).toEqual(["m:zeta", "m:acc", "p:lr", "p:seed"]);
    const many = { params: [], metrics: Array.from({ length: 12 }, (_, i) => `m${String(i).padStart(2, "0")}`), tags: [] };
    const counts = new Map(many.metrics.map((m, i) => [`m:${m}`, i]));
    expect(defaultColumns(many, counts)).toEqual(["m:m11", "m:m10", "m:m09", "m:m08", "m:m07", "m:m06", "m:m05", "m:m04"]);
  });
});

describe("completion of values and joiners", () => {
  it("reads quoted values and IN lists as tokens", () => {
    expect(tokens("params.lr IN ('a b', 'c''d')")).toEqual(["params.lr", "IN", "(", "'a b'", ",", "'c''d'", ")"]);
  });
  it("asks for the values of the field after an operator, with the typed prefix", () => {
    expect(valueField("params.lr = ", 12)).toEqual({ field: "params.lr", prefix: "" });
    expect(valueField("p.lr = '0.", 10)).toEqual({ field: "params.lr", prefix: "0." });
    expect(valueField("tags.`my team` != 'a b", 22)).toEqual({ field: "tags.`my team`", prefix: "a b" });
    expect(valueField("status = ", 9)).toEqual({ field: "status", prefix: "" });
    expect(valueField("params.lr IN ('0.1', ", 21)).toEqual({ field: "params.lr", prefix: "" });
    expect(valueField("params.lr NOT IN (", 18)).toEqual({ field: "params.lr", prefix: "" });
    expect(valueField("metrics.acc > ", 14)).toBeNull();
    expect(valueField("params.lr ", 10)).toBeNull();
  });
  it("offers the known values quoted, and AND/OR after the condition", () => {
    const text = "params.optimizer = 'a";
    const c = complete(text, text.length, keys, 50, ["adam", "adagrad", "sgd", "it's"]);
    expect(c.items.map((i) => i.label)).toEqual(["adam", "adagrad"]);
    const next = apply(text, c, c.items[0]);
    expect(next.text).toBe("params.optimizer = 'adam' ");
    expect(complete(next.text, next.cursor, keys).items.map((i) => i.label)).toEqual(["AND", "OR"]);
    expect(quote("it's a\\b")).toBe("'it''s a\\\\b'");
    expect(complete("status = ", 9, keys).items.map((i) => i.label)).toEqual(["RUNNING", "FINISHED", "FAILED", "KILLED"]);
    expect(complete("name IS NULL ", 13, keys).items.map((i) => i.label)).toEqual(["AND", "OR"]);
    expect(complete("(metrics.acc > 1) ", 18, keys).items.map((i) => i.label)).toEqual(["AND", "OR"]);
  });
});

describe("nested runs", () => {
  const r = (id: string, parent_id: string | null = null) => ({ id, parent_id });
  it("lists children under an open parent, in their order, at any depth", () => {
    const runs = [r("c1", "p"), r("p"), r("g", "c1"), r("c2", "p"), r("x")];
    expect(nest(runs, new Set()).map((n) => [n.run.id, n.depth, n.children])).toEqual([["p", 0, 2], ["x", 0, 0]]);
    expect(nest(runs, new Set(["p", "c1"])).map((n) => [n.run.id, n.depth])).toEqual([["p", 0], ["c1", 1], ["g", 2], ["c2", 1], ["x", 0]]);
  });
  it("shows a child whose parent is filtered out, and runs in a loop of parents", () => {
    expect(nest([r("c", "gone"), r("a", "b"), r("b", "a"), r("s", "s")], new Set()).map((n) => n.run.id)).toEqual(["c", "a", "b", "s"]);
  });
});

describe("shortcuts leave focused controls alone", () => {
  it("knows links, buttons, fields and role=button", () => {
    document.body.innerHTML = `<a href="/x" id="a"><span id="in">x</span></a><button id="b"></button><div role="button" id="rb"></div><div contenteditable id="ce"></div><div id="plain"></div><a id="bare">no href</a>`;
    for (const id of ["a", "in", "b", "rb", "ce"]) expect(isControl(document.getElementById(id))).toBe(true);
    for (const id of ["plain", "bare"]) expect(isControl(document.getElementById(id))).toBe(false);
    expect(isControl(document.body)).toBe(false);
  });
});
