/**
 * Metric charts for one or many runs: x axis by step, wall time, relative time or another
 * metric (paired by step), smoothing, log scale. The server downsamples (min/max per bucket, so
 * spikes survive) to a point budget per chart (by its width) split across its runs; dragging on a step chart
 * zooms every chart and fetches the window again at full detail. Charts load one after another,
 * so the first paints without waiting for the rest. A metric every run logged once is a bar chart.
 */
import { useMemo, useRef, useState, useEffect } from "react";
import type uPlot from "uplot";
import { historiesBatched, inTurn, type Run, type Series } from "../lib/api";
import { toNumber } from "../lib/format";
import { useQueryParam } from "../lib/route";
import { alignBinned, color, joinByStep, needsTimestamps, smooth, xMetric, xValues, type XAxis } from "../lib/series";
import { useDark } from "../lib/theme";
import { useAsync } from "../lib/useAsync";
import { Chart } from "./Chart";
import { DirectionToggle, useDirection } from "./DirectionToggle";
import { ValueChart, type Bar } from "./ValueChart";

/** Points a series keeps at most: about a chart's width in pixels, twice (min and max). */
const MAX_POINTS = 1000;
/** Points a chart keeps for all its runs together: 64 a pixel of its width, so a 460 px chart
 * of 300 runs draws about 100 a run (50 min/max buckets) and one of 30 runs 1,000 a run. More
 * only costs parsing and drawing time that the eye cannot tell; zooming fetches the detail. */
export function pointBudget(width: number): number {
  return Math.round(Math.min(1600, Math.max(400, width)) * 64);
}

export function ChartControls({ metrics }: { metrics?: string[] }) {
  const [axis, setAxis] = useQueryParam("x", "step");
  const [smoothing, setSmoothing] = useQueryParam("smooth", "0");
  const [log, setLog] = useQueryParam("log", "0");
  const [zoom, setZoom] = useQueryParam("zoom");
  return (
    <div className="toolbar chart-controls">
      <label>
        x axis{" "}
        <select value={axis} onChange={(e) => { setAxis(e.target.value); setZoom(""); }} data-testid="x-axis">
          <option value="step">step</option>
          <option value="wall">wall time</option>
          <option value="relative">relative time (s)</option>
          {metrics && metrics.length > 0 && (
            <optgroup label="another metric (same step)">
              {metrics.map((m) => <option key={m} value={`metric:${m}`}>{m}</option>)}
            </optgroup>
          )}
        </select>
      </label>
      <label>
        smoothing{" "}
        <input type="range" min="0" max="0.99" step="0.01" value={smoothing} onChange={(e) => setSmoothing(e.target.value)} data-testid="smoothing" />{" "}
        <span className="muted">{Number(smoothing).toFixed(2)}</span>
      </label>
      <label><input type="checkbox" checked={log === "1"} onChange={(e) => setLog(e.target.checked ? "1" : "0")} data-testid="log-scale" /> log scale</label>
      {zoom && <button onClick={() => setZoom("")} data-testid="reset-zoom">Reset zoom ({zoom.replace(",", " – ")})</button>}
      <span className="muted">drag on a chart to zoom; double-click resets</span>
    </div>
  );
}

export function MetricCharts({ runs, keys, empty = "No metrics were logged." }: { runs: Run[]; keys: string[]; empty?: string }) {
  if (!keys.length) return <p className="muted">{empty}</p>;
  return (
    <div>
      <ChartControls metrics={keys} />
      <div className="charts">
        {keys.map((k) => <MetricChart key={k} metric={k} runs={runs} />)}
      </div>
    </div>
  );
}

/** Render a chart only once it scrolls near the viewport (pages with 50 metrics stay quick). */
function useVisible(): [React.RefObject<HTMLDivElement | null>, boolean] {
  const ref = useRef<HTMLDivElement>(null);
  const [seen, setSeen] = useState(false);
  useEffect(() => {
    const el = ref.current;
    if (!el || seen) return;
    const io = new IntersectionObserver((entries) => { if (entries.some((e) => e.isIntersecting)) setSeen(true); }, { rootMargin: "400px" });
    io.observe(el);
    return () => io.disconnect();
  }, [seen]);
  return [ref, seen];
}

type View =
  | { kind: "values"; bars: Bar[] }
  | { kind: "lines"; data: uPlot.AlignedData; labels: string[]; total: number; inWindow: number; shown: number };

/** What a chart of these series shows: bars when every run logged the metric once (and x is
 * not another metric), else lines; null while the answer lacks what the x axis needs. */
function viewOf(all: Series[], metric: string, axis: string, weight: number, names: Map<string, string>, dark: boolean): View | null {
  const series = all.filter((s) => s.key === metric);
  const other = xMetric(axis);
  if (!series.length) return null;
  const label = (s: Series) => names.get(s.run_id) ?? s.run_id;
  if (!other && series.length > 1 && series.every((s) => s.total === 1)) {
    return { kind: "values", bars: series.map((s, i) => ({ label: label(s), value: toNumber(s.values[0]), color: color(i, dark) })) };
  }
  if (needsTimestamps(axis) && series.some((s) => !s.timestamps)) return null;
  const xs = new Map(all.filter((s) => s.key === other).map((s) => [s.run_id, s]));
  const lines: { x: number[]; y: number[] }[] = [];
  const labels: string[] = [];
  for (const s of series) {
    const y = smooth(s.values.map((v) => toNumber(v)), weight);
    if (other) {
      const on = xs.get(s.run_id);
      if (!on) continue;
      lines.push(joinByStep({ steps: s.steps, values: y }, { steps: on.steps, values: on.values.map((v) => toNumber(v)) }));
    } else {
      lines.push({ x: xValues(axis as XAxis, s.steps, s.timestamps), y });
    }
    labels.push(label(s));
  }
  if (!lines.length) return null;
  return {
    kind: "lines",
    data: alignBinned(lines) as uPlot.AlignedData,
    labels,
    total: series.reduce((n, s) => n + s.total, 0),
    inWindow: series.reduce((n, s) => n + (s.in_window ?? s.total), 0),
    shown: series.reduce((n, s) => n + s.steps.length, 0),
  };
}

export function MetricChart({ metric, runs }: { metric: string; runs: Run[] }) {
  const [axis] = useQueryParam("x", "step");
  const [smoothing] = useQueryParam("smooth", "0");
  const [log] = useQueryParam("log", "0");
  const [zoom, setZoom] = useQueryParam("zoom");
  const [direction] = useDirection(metric);
  const dark = useDark();
  const [box, visible] = useVisible();
  const other = xMetric(axis);
  const keys = useMemo(() => (other && other !== metric ? [metric, other] : [metric]), [metric, other]);
  const ids = useMemo(() => runs.filter((r) => keys.every((k) => k in r.metrics)).map((r) => r.id), [runs, keys]);
  // refetch when a run logs a new point of this metric (live runs)
  const lastSteps = runs.map((r) => `${r.metrics[metric]?.step ?? ""}:${r.metrics[metric]?.count ?? ""}`).join(",");
  const [lo, hi] = zoom && axis === "step" ? zoom.split(",").map(Number) : [null, null];
  const timestamps = needsTimestamps(axis);
  const history = useAsync(
    (signal) =>
      visible && ids.length
        ? inTurn(() => historiesBatched({ run_ids: ids, keys, max_points: MAX_POINTS, point_budget: pointBudget(box.current?.clientWidth ?? 800) * keys.length, x_min: lo, x_max: hi, timestamps }, signal), signal)
        : Promise.resolve([] as Series[]),
    [visible, ids.join(","), keys.join(","), lo, hi, lastSteps, timestamps],
  );
  const names = useMemo(() => new Map(runs.map((r) => [r.id, r.name || r.id.slice(0, 8)])), [runs]);
  const view = useMemo(
    () => viewOf(history.data ?? [], metric, axis, Number(smoothing) || 0, names, dark),
    [history.data, metric, axis, smoothing, names, dark],
  );
  const empty = other && !ids.length ? `no run logged both ${metric} and ${other}` : "no points";
  return (
    <div className="chart-card" ref={box} data-testid={"chart-" + metric}>
      {history.error && <p className="error">{history.error.message}</p>}
      {!view && !history.error && <div className="chart-placeholder">{metric}: {history.loading ? "loading…" : empty}</div>}
      {view?.kind === "values" && <ValueChart title={metric} bars={view.bars} direction={direction} />}
      {view?.kind === "lines" && (
        <Chart
          title={metric}
          data={view.data}
          labels={view.labels}
          xLabel={other ?? (axis === "step" ? "step" : axis === "wall" ? "time" : "seconds")}
          timeAxis={axis === "wall"}
          log={log === "1"}
          direction={direction}
          onZoom={axis === "step" ? (range) => setZoom(range ? `${Math.floor(range[0])},${Math.ceil(range[1])}` : "") : undefined}
        />
      )}
      {view && (
        <div className="chart-foot muted small">
          {view.kind === "values" ? (
            <span>one value per run</span>
          ) : (
            <span>
              {view.shown.toLocaleString("en-US")} of {view.total.toLocaleString("en-US")} points drawn
              {view.inWindow < view.total ? `; the zoomed window holds ${view.inWindow.toLocaleString("en-US")}` : ""}
              {view.shown < view.inWindow ? " (downsampled by the server; zoom for detail)" : ""}
            </span>
          )}
          <DirectionToggle metric={metric} />
        </div>
      )}
    </div>
  );
}
