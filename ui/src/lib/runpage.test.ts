import { describe, expect, it } from "vitest";
import type { Run } from "./api";
import { keyMetrics, userTag } from "./runEdits";
import { activeView, viewHref, viewLink, viewQuery, type SavedView } from "./savedViews";
import { tagProblem } from "../components/RunTags";

const view = (id: number, name: string, query: string): SavedView => ({
  id, experiment_id: 3, name, query, owner: "u", created_at: 0, updated_at: 0,
});

describe("saved views", () => {
  it("keeps the page's query string without the view parameter", () => {
    expect(viewQuery("?view=4&filter=a%3D1&sort=-m")).toBe("filter=a%3D1&sort=-m");
    expect(viewQuery("")).toBe("");
  });
  it("finds the view the page shows, whatever the parameters' order", () => {
    const views = [view(1, "a", "filter=x&sort=y"), view(2, "b", "group=p%3Alr")];
    expect(activeView(views, "?sort=y&filter=x")?.name).toBe("a");
    expect(activeView(views, "?group=p:lr")?.name).toBe("b");
    expect(activeView(views, "?filter=x")).toBeUndefined();
  });
  it("builds the view's page and its shared link", () => {
    expect(viewHref(3, "")).toBe("/experiments/3");
    expect(viewHref(3, "a=1")).toBe("/experiments/3?a=1");
    expect(viewLink(3, 7, "http://h")).toBe("http://h/experiments/3?view=7");
  });
});

describe("run edits", () => {
  it("leaves the SDK's and MLflow's tags alone", () => {
    expect(userTag("team")).toBe(true);
    expect(userTag("my.error")).toBe(false);
    expect(userTag("mlflow.runName")).toBe(false);
    expect(tagProblem("", null, {})).toMatch(/needs a key/);
    expect(tagProblem("my.x", null, {})).toMatch(/kept by/);
    expect(tagProblem("a", null, { a: "1" })).toMatch(/already a tag a/);
    expect(tagProblem("a", "a", { a: "1" })).toBe("");
  });
  it("picks the metrics most children have", () => {
    const run = (metrics: string[]) => ({ metrics: Object.fromEntries(metrics.map((k) => [k, {}])) }) as unknown as Run;
    const runs = [run(["acc", "loss", "system/cpu"]), run(["acc"]), run(["acc", "f1"])];
    expect(keyMetrics(runs, 2)).toEqual(["acc", "f1"]);
  });
});
