/** A time chart of monitoring series (uPlot): a colour per version, estimated lines dashed,
 * gaps where a window has no data (never drawn as 0). */
import { useEffect, useRef } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import { useDark } from "../../lib/theme";
import { color } from "../../lib/series";
import { figureText, type ChartData } from "../../lib/monitoring";
import { tickLabels } from "../../lib/format";
import { versionColor } from "../TrafficBar";

export function TimeChart({ title, data, span, unit = "plain", height = 220, testId }: {
  title: string;
  data: ChartData;
  /** the x axis covers this [since, until) in ms (a lone window is not stretched over years) */
  span?: { since: number; until: number };
  unit?: Parameters<typeof figureText>[1];
  height?: number;
  testId?: string;
}) {
  const box = useRef<HTMLDivElement>(null);
  const dark = useDark(); // redrawn in the other theme's colours when it is toggled
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const axis = dark ? "#c9d1d9" : "#333";
    const grid = dark ? "rgba(255,255,255,0.08)" : "rgba(0,0,0,0.07)";
    const opts: uPlot.Options = {
      title,
      width: Math.max(200, el.clientWidth),
      height,
      scales: { x: span ? { time: true, range: [span.since / 1000, span.until / 1000] } : { time: true } },
      cursor: { points: { size: 5 } },
      series: [
        { label: "time", value: (_u, v) => (v === null ? "" : new Date(v * 1000).toLocaleString()) },
        ...data.series.map((s, i) => ({
          label: s.label,
          stroke: s.version === null ? color(i, dark) : versionColor(s.version),
          width: 1.5,
          dash: s.estimated ? [6, 4] : undefined,
          spanGaps: false,
          points: { show: true, size: s.estimated ? 6 : 4, fill: s.estimated ? (dark ? "#14171c" : "#ffffff") : undefined },
          value: (_u: uPlot, v: number | null) => figureText(v, unit),
        })),
      ],
      axes: [
        { stroke: axis, grid: { stroke: grid }, ticks: { stroke: grid } },
        { stroke: axis, grid: { stroke: grid }, ticks: { stroke: grid }, size: 60, values: (_u, splits) => tickLabels(splits) },
      ],
    };
    const u = new uPlot(opts, [data.x, ...data.ys] as uPlot.AlignedData, el);
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(200, el.clientWidth), height }));
    resize.observe(el);
    el.dataset.points = String(data.ys.reduce((n, ys) => n + ys.filter((y) => y !== null).length, 0));
    return () => {
      resize.disconnect();
      u.destroy();
    };
  }, [data, title, unit, height, span?.since, span?.until, dark]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <div className="chart mon-chart" data-testid={testId}>
      <div ref={box} />
    </div>
  );
}
