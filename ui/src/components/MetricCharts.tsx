/**
 * Metric charts for one or many runs: x axis by step, wall time or relative time, smoothing,
 * log scale. The server downsamples (min/max per bucket, so spikes survive); dragging on a step
 * chart zooms every chart and fetches the window again at full detail.
 */
import { useMemo, useRef, useState, useEffect } from "react";
import type uPlot from "uplot";
import { api, type Run, type Series } from "../lib/api";
import { toNumber } from "../lib/format";
import { useQueryParam } from "../lib/route";
import { alignBinned, smooth, xValues, type XAxis } from "../lib/series";
import { useAsync } from "../lib/useAsync";
import { Chart } from "./Chart";

const MAX_POINTS = 1000;

export function ChartControls() {
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
      <ChartControls />
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

export function MetricChart({ metric, runs }: { metric: string; runs: Run[] }) {
  const [axis] = useQueryParam("x", "step");
  const [smoothing] = useQueryParam("smooth", "0");
  const [log] = useQueryParam("log", "0");
  const [zoom, setZoom] = useQueryParam("zoom");
  const [box, visible] = useVisible();
  const ids = useMemo(() => runs.filter((r) => metric in r.metrics).map((r) => r.id), [runs, metric]);
  // refetch when a run logs a new point of this metric (live runs)
  const lastSteps = runs.map((r) => `${r.metrics[metric]?.step ?? ""}:${r.metrics[metric]?.count ?? ""}`).join(",");
  const [lo, hi] = zoom && axis === "step" ? zoom.split(",").map(Number) : [null, null];
  const history = useAsync(
    (signal) => (visible && ids.length ? api.histories({ run_ids: ids, keys: [metric], max_points: MAX_POINTS, x_min: lo, x_max: hi }, signal) : Promise.resolve({ series: [] as Series[] })),
    [visible, ids.join(","), metric, lo, hi, lastSteps],
  );
  const names = useMemo(() => new Map(runs.map((r) => [r.id, r.name || r.id.slice(0, 8)])), [runs]);
  const chart = useMemo(() => {
    const series = history.data?.series ?? [];
    if (!series.length) return null;
    const weight = Number(smoothing) || 0;
    const lines = series.map((s) => ({
      x: xValues(axis as XAxis, s.steps, s.timestamps),
      y: smooth(s.values.map((v) => toNumber(v)), weight),
    }));
    return {
      data: alignBinned(lines) as uPlot.AlignedData,
      labels: series.map((s) => names.get(s.run_id) ?? s.run_id),
      total: series.reduce((n, s) => n + s.total, 0),
      inWindow: series.reduce((n, s) => n + (s.in_window ?? s.total), 0),
      shown: series.reduce((n, s) => n + s.steps.length, 0),
    };
  }, [history.data, axis, smoothing, names]);
  return (
    <div className="chart-card" ref={box} data-testid={"chart-" + metric}>
      {history.error && <p className="error">{history.error.message}</p>}
      {!chart && !history.error && <div className="chart-placeholder">{metric}: {history.loading ? "loading…" : "no points"}</div>}
      {chart && (
        <>
          <Chart
            title={metric}
            data={chart.data}
            labels={chart.labels}
            xLabel={axis === "step" ? "step" : axis === "wall" ? "time" : "seconds"}
            timeAxis={axis === "wall"}
            log={log === "1"}
            onZoom={axis === "step" ? (range) => setZoom(range ? `${Math.floor(range[0])},${Math.ceil(range[1])}` : "") : undefined}
          />
          <div className="muted small">
            {chart.shown.toLocaleString("en-US")} of {chart.total.toLocaleString("en-US")} points drawn
            {chart.inWindow < chart.total ? `; the zoomed window holds ${chart.inWindow.toLocaleString("en-US")}` : ""}
            {chart.shown < chart.inWindow ? " (downsampled by the server; zoom for detail)" : ""}
          </div>
        </>
      )}
    </div>
  );
}
