/**
 * A uPlot time-series chart that follows its container's width and the theme. Hovering lists
 * every series' value at that x, best first, and focuses the nearest series (chartTooltip.ts);
 * the legend is left out beyond a few series, and a series of one point is a dot with its value.
 */
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Direction } from "../lib/direction";
import { useDark } from "../lib/theme";
import { color } from "../lib/series";
import { num, tickLabels } from "../lib/format";
import { tooltipPlugin } from "./chartTooltip";

/** Series beyond which the legend is left out (the tooltip names them instead). */
export const LEGEND_MAX_SERIES = 4;
/** Single points labelled with their value at most (more would overlap). */
const LABELLED_POINTS = 20;

export interface ChartProps {
  title: string;
  data: uPlot.AlignedData;
  labels: string[];
  xLabel: string;
  timeAxis?: boolean;
  log?: boolean;
  height?: number;
  /** Which way is better, for the tooltip's order (best first). */
  direction?: Direction;
  /** Called with the selected x range when the user drags to zoom, and with null on reset. */
  onZoom?: (range: [number, number] | null) => void;
  testId?: string;
}

function axisStroke(dark: boolean) {
  return dark ? "#c9d1d9" : "#333";
}

function gridStroke(dark: boolean) {
  return dark ? "rgba(255,255,255,0.08)" : "rgba(0,0,0,0.07)";
}

/** Each series' first and last x with a value, and how many values it has. */
function extents(data: uPlot.AlignedData): { first: number; last: number; count: number }[] {
  const xs = data[0];
  return data.slice(1).map((ys) => {
    let first = Infinity;
    let last = -Infinity;
    let count = 0;
    for (let i = 0; i < ys.length; i++) {
      if (ys[i] === null || ys[i] === undefined) continue;
      count++;
      if (xs[i] < first) first = xs[i];
      if (xs[i] > last) last = xs[i];
    }
    return { first, last, count };
  });
}

/** A value label over each series that has a single point (a dot alone says little). */
function pointLabels(singles: number[]): uPlot.Plugin {
  const spans: HTMLSpanElement[] = [];
  return {
    hooks: {
      draw: (u) => {
        spans.forEach((s) => s.remove());
        spans.length = 0;
        for (const i of singles.slice(0, LABELLED_POINTS)) {
          const ys = u.data[i];
          const at = ys.findIndex((v) => v !== null && v !== undefined);
          if (at < 0 || !u.series[i].show) continue;
          const span = document.createElement("span");
          span.className = "point-label";
          span.dataset.testid = "point-label";
          span.textContent = num(ys[at]);
          span.style.left = `${u.valToPos(u.data[0][at], "x")}px`;
          span.style.top = `${u.valToPos(ys[at] as number, "y")}px`;
          u.over.appendChild(span);
          spans.push(span);
        }
      },
    },
  };
}

export function Chart({ title, data, labels, xLabel, timeAxis = false, log = false, height = 260, direction = "max", onZoom, testId }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const zoomRef = useRef(onZoom);
  zoomRef.current = onZoom;
  const dark = useDark();

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const colors = labels.map((_, i) => color(i, dark));
    const spans = extents(data);
    const singles = spans.flatMap((s, i) => (s.count === 1 ? [i + 1] : []));
    const formatX = (v: number) => (timeAxis ? new Date(v * 1000).toLocaleString() : num(v));
    const axis = { stroke: axisStroke(dark), grid: { stroke: gridStroke(dark) }, ticks: { stroke: gridStroke(dark) } };
    const opts: uPlot.Options = {
      title,
      width: Math.max(200, el.clientWidth),
      height,
      scales: {
        // one x value (a metric logged once): put it in the middle, not at the left edge
        x: {
          time: timeAxis,
          range: (u, lo, hi) => {
            const xs = u.data[0];
            return xs.length && xs[0] === xs[xs.length - 1] ? [xs[0] - 1, xs[0] + 1] : [lo, hi];
          },
        },
        y: log ? { distr: 3 } : {},
      },
      legend: { show: labels.length <= LEGEND_MAX_SERIES, live: true },
      focus: { alpha: 0.25 },
      cursor: {
        drag: { x: true, y: false },
        points: { size: 6, one: labels.length > LEGEND_MAX_SERIES },
        focus: { prox: 24 },
        // a series' value at x is its nearest point, but not beyond its own first or last
        hover: {
          skip: [null],
          prox: (_u, i, _idx, x) => (x >= spans[i - 1].first && x <= spans[i - 1].last ? null : 8),
        },
      },
      series: [
        { label: xLabel, value: (_u, v) => (v === null ? "" : formatX(v)) },
        ...labels.map((label, i) => ({
          label,
          stroke: colors[i],
          width: 1.25,
          spanGaps: true,
          points: { show: spans[i].count === 1, size: 8, fill: colors[i] },
          value: (_u: uPlot, v: number | null) => (v === null ? "" : num(v)),
        })),
      ],
      axes: [axis, { ...axis, size: 60, ...(log ? {} : { values: (_u: uPlot, splits: number[]) => tickLabels(splits) }) }],
      plugins: [
        tooltipPlugin({ labels, colors, direction, formatX: (x) => `${xLabel} ${formatX(x)}`, formatY: num }),
        pointLabels(singles),
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
    el.dataset.points = String(spans.reduce((n, s) => n + s.count, 0));
    el.dataset.series = JSON.stringify(labels); // the runs drawn, legend or not (tests, tools)
    el.dataset.ready = "true";
    return () => {
      resize.disconnect();
      u.destroy();
    };
  }, [data, labels, title, xLabel, timeAxis, log, height, dark, direction]);

  return (
    <div className="chart" data-testid={testId ?? "chart"} onDoubleClick={() => zoomRef.current?.(null)}>
      <div ref={box} />
    </div>
  );
}
