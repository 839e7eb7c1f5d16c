/**
 * The runs page's chart panel (`charts=1`): the selected runs, or the table's runs when none is
 * selected, as line charts of the chosen metrics (`cm=`), parallel coordinates, a scatter plot or
 * an image grid (`ctab=`).
 */
import { useMemo } from "react";
import type { Run } from "../lib/api";
import { joinList, splitList, useQueryParam } from "../lib/route";
import { ImageGrid } from "./ImageGrid";
import { ChartControls, MetricChart } from "./MetricCharts";
import { ParallelView, ScatterView } from "./PlotViews";
import "./plots.css";

/** At most this many runs are drawn (the first ones in the table's order). */
export const PANEL_MAX_RUNS = 300;
const TABS = ["lines", "parallel", "scatter", "images"] as const;

/** Params with more than one value among the runs (the others would be flat axes). */
function varying(runs: Run[], params: string[]): string[] {
  return params.filter((p) => new Set(runs.map((r) => r.params[p] ?? "")).size > 1);
}

export function RunsChartPanel({ runs, selected, params, metrics }: {
  runs: Run[];
  selected: Set<string>;
  params: string[];
  metrics: string[];
}) {
  const picked = useMemo(() => (selected.size ? runs.filter((r) => selected.has(r.id)) : runs), [runs, selected]);
  const shown = useMemo(() => picked.slice(0, PANEL_MAX_RUNS), [picked]);
  const [tab, setTab] = useQueryParam("ctab", "lines");
  const [cm, setCm] = useQueryParam("cm");
  const plain = metrics.filter((m) => !m.startsWith("system/"));
  const chosen = cm ? splitList(cm).filter((m) => metrics.includes(m)) : plain.slice(0, 3);
  const toggle = (m: string) => setCm(joinList(chosen.includes(m) ? chosen.filter((x) => x !== m) : [...chosen, m]) || "-");
  const whose = selected.size ? `the ${picked.length} selected runs` : `the ${picked.length} runs in the table`;
  return (
    <section className="runs-chart-panel" data-testid="chart-panel" aria-label="Charts">
      <div className="panel-head">
        <nav className="tabs" role="tablist">
          {TABS.map((t) => (
            <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? "active" : ""} onClick={() => setTab(t)}>{t}</button>
          ))}
        </nav>
        <span className="muted" data-testid="chart-panel-runs">
          {shown.length < picked.length ? `the first ${shown.length} of ${whose}` : whose}
          {selected.size ? "" : " (select runs to chart only those)"}
        </span>
      </div>
      {(tab === "lines" || tab === "parallel") && (
        <div className="chips" data-testid="panel-metrics">
          {plain.map((m) => (
            <button key={m} className={"chip " + (chosen.includes(m) ? "on" : "")} aria-pressed={chosen.includes(m)} onClick={() => toggle(m)}>{m}</button>
          ))}
        </div>
      )}
      {!shown.length && <p className="muted">No runs to chart.</p>}
      {shown.length > 0 && tab === "lines" && (
        <div>
          <ChartControls metrics={plain} />
          {!chosen.length && <p className="muted">Pick a metric above.</p>}
          <div className="charts">
            {chosen.map((m) => <MetricChart key={m} metric={m} runs={shown} />)}
          </div>
        </div>
      )}
      {shown.length > 0 && tab === "parallel" && <ParallelView runs={shown} params={varying(shown, params)} metrics={chosen} />}
      {shown.length > 0 && tab === "scatter" && <ScatterView runs={shown} params={params} metrics={metrics} />}
      {shown.length > 0 && tab === "images" && <ImageGrid runs={shown} />}
    </section>
  );
}
