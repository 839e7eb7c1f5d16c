/** A uPlot time-series chart that follows its container's width and the theme. */
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { isDark } from "../lib/theme";
import { color } from "../lib/series";
import { num } from "../lib/format";

export interface ChartProps {
  title: string;
  data: uPlot.AlignedData;
  labels: string[];
  xLabel: string;
  timeAxis?: boolean;
  log?: boolean;
  height?: number;
  /** Called with the selected x range when the user drags to zoom, and with null on reset. */
  onZoom?: (range: [number, number] | null) => void;
  testId?: string;
}

function axisStroke() {
  return isDark() ? "#c9d1d9" : "#333";
}

function gridStroke() {
  return isDark() ? "rgba(255,255,255,0.08)" : "rgba(0,0,0,0.07)";
}

export function Chart({ title, data, labels, xLabel, timeAxis = false, log = false, height = 260, onZoom, testId }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const zoomRef = useRef(onZoom);
  zoomRef.current = onZoom;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const dark = isDark();
    const opts: uPlot.Options = {
      title,
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: { time: timeAxis }, y: log ? { distr: 3 } : {} },
      legend: { live: labels.length <= 12 },
      cursor: { drag: { x: true, y: false }, points: { size: 5 } },
      series: [
        { label: xLabel, value: (_u, v) => (v === null ? "" : timeAxis ? new Date(v * 1000).toLocaleString() : num(v)) },
        ...labels.map((label, i) => ({
          label,
          stroke: color(i, dark),
          width: 1.25,
          spanGaps: true,
          points: { show: false },
          value: (_u: uPlot, v: number | null) => (v === null ? "" : num(v)),
        })),
      ],
      axes: [
        { stroke: axisStroke(), grid: { stroke: gridStroke() }, ticks: { stroke: gridStroke() } },
        { stroke: axisStroke(), grid: { stroke: gridStroke() }, ticks: { stroke: gridStroke() }, size: 60 },
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 4) return;
            const lo = u.posToVal(u.select.left, "x");
            const hi = u.posToVal(u.select.left + u.select.width, "x");
            zoomRef.current?.([lo, hi]);
          },
        ],
      },
    };
    const u = new uPlot(opts, data, el);
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    el.dataset.points = String(data.slice(1).reduce((n, ys) => n + (ys as unknown[]).filter((y) => y !== null).length, 0));
    el.dataset.ready = "true";
    return () => {
      resize.disconnect();
      u.destroy();
    };
  }, [data, labels, title, xLabel, timeAxis, log, height]);

  return (
    <div className="chart" data-testid={testId ?? "chart"} onDoubleClick={() => zoomRef.current?.(null)}>
      <div ref={box} />
    </div>
  );
}
