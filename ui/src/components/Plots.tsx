/** Parallel coordinates (with brushes) and a scatter plot in SVG: a few hundred runs at most. */
import { useRef, useState } from "react";
import type { Run } from "../lib/api";
import { brushOver, brushSpan, inBrush, withBrush, type Brush } from "../lib/brush";
import { num } from "../lib/format";
import { navigate } from "../lib/route";
import { heat, scaleOf, type Scale, type Value } from "../lib/scales";
import "./plots.css";

export interface Axis {
  id: string;
  label: string;
  value: (r: Run) => Value;
}

/** The runs inside every brush (a brush on an axis not shown still counts). */
export function brushed(runs: Run[], axes: Axis[], brushes: Brush[]): Set<string> {
  const byId = new Map(axes.map((a) => [a.id, a]));
  const active = brushes.filter((b) => byId.has(b.axis));
  return new Set(runs.filter((r) => active.every((b) => inBrush(b, byId.get(b.axis)!.value(r)))).map((r) => r.id));
}

/** A ramp from the lowest to the highest value of the colour metric. */
export function ColorLegend({ label, values }: { label: string; values: number[] }) {
  const finite = values.filter(Number.isFinite);
  const stops = [0, 0.25, 0.5, 0.75, 1].map((t) => `${heat(t)} ${t * 100}%`).join(", ");
  return (
    <div className="color-legend" data-testid="color-legend">
      <span className="muted">{label}</span>
      {finite.length ? (
        <>
          <span data-testid="color-min">{num(Math.min(...finite))}</span>
          <span className="ramp" style={{ background: `linear-gradient(to right, ${stops})` }} />
          <span data-testid="color-max">{num(Math.max(...finite))}</span>
        </>
      ) : (
        <span className="muted">no values (lines are grey)</span>
      )}
    </div>
  );
}

interface Drag {
  axis: number;
  y0: number;
  y1: number;
}

export function ParallelCoordinates({ runs, axes, colorBy, colorLabel, brushes, onBrushes }: {
  runs: Run[];
  axes: Axis[];
  colorBy: (r: Run) => number;
  colorLabel: string;
  brushes: Brush[];
  onBrushes: (next: Brush[]) => void;
}) {
  const svg = useRef<SVGSVGElement>(null);
  const [drag, setDrag] = useState<Drag | null>(null);
  if (axes.length < 2) return <p className="muted">Parallel coordinates need at least two params or metrics.</p>;
  const W = Math.max(600, axes.length * 120);
  const H = 360;
  const top = 40;
  const bottom = 30;
  const gap = (W - 80) / (axes.length - 1);
  const scales = axes.map((a) => scaleOf(runs.map(a.value)));
  const colors = runs.map(colorBy);
  const colorScale = scaleOf(colors);
  const y = (p: number) => top + (1 - p) * (H - top - bottom);
  const p = (py: number) => 1 - (py - top) / (H - top - bottom);
  const kept = brushed(runs, axes, brushes);
  const at = (e: React.PointerEvent) => e.clientY - (svg.current?.getBoundingClientRect().top ?? 0);
  const end = (i: number, scale: Scale) => {
    if (!drag) return;
    const axis = axes[i].id;
    const next = Math.abs(drag.y1 - drag.y0) < 3 ? null : brushOver(axis, scale, p(drag.y0), p(drag.y1));
    setDrag(null);
    onBrushes(withBrush(brushes, axis, next)); // a click (no drag) clears the axis's brush
  };
  const line = (r: Run, i: number) => {
    const pts = axes.map((a, j) => {
      const pos = scales[j].pos(a.value(r));
      return pos === null ? null : `${40 + j * gap},${y(pos)}`;
    });
    const inside = kept.has(r.id);
    const c = colorScale.pos(colors[i]);
    return (
      <polyline
        key={r.id}
        data-run={r.id}
        className={inside ? "kept" : "out"}
        points={pts.filter(Boolean).join(" ")}
        fill="none"
        stroke={inside && c !== null ? heat(c) : "gray"}
        onClick={() => navigate(`/runs/${r.id}`)}
      >
        <title>{r.name}</title>
      </polyline>
    );
  };
  return (
    <div>
      <div className="plot-head">
        <ColorLegend label={colorLabel} values={colors} />
        {brushes.length > 0 && (
          <span data-testid="brush-count">
            {kept.size} of {runs.length} runs inside the brushes{" "}
            <button onClick={() => onBrushes([])} data-testid="clear-brushes">Clear brushes</button>
          </span>
        )}
        <span className="muted small">drag along an axis to keep a range; click the axis to clear it</span>
      </div>
      <div className="scroll-x">
        <svg ref={svg} width={W} height={H} className="plot parallel" data-testid="parallel">
          {runs.map((r, i) => (kept.has(r.id) ? null : line(r, i)))}
          {runs.map((r, i) => (kept.has(r.id) ? line(r, i) : null))}
          {axes.map((a, i) => {
            const brush = brushes.find((b) => b.axis === a.id);
            const span = brush ? brushSpan(brush, scales[i]) : null;
            return (
              <g key={a.id} transform={`translate(${40 + i * gap},0)`} data-axis={a.id}>
                <line y1={top} y2={H - bottom} className="axis" />
                <text y={top - 18} textAnchor="middle" className="axis-label">{a.label}</text>
                {scales[i].ticks.map((t) => (
                  <text key={t.label + t.at} x={4} y={y(t.at) + 4} className="tick">{t.label}</text>
                ))}
                {span && <rect className="brush" data-testid={`brush-${a.id}`} x={-7} width={14} y={y(span[1]) - 3} height={y(span[0]) - y(span[1]) + 6} />}
                {drag?.axis === i && (
                  <rect className="brush dragging" x={-7} width={14} y={Math.min(drag.y0, drag.y1)} height={Math.abs(drag.y1 - drag.y0)} />
                )}
                <rect
                  className="brush-area"
                  data-testid={`brush-area-${a.id}`}
                  x={-12}
                  width={24}
                  y={top - 6}
                  height={H - top - bottom + 12}
                  onPointerDown={(e) => {
                    e.currentTarget.setPointerCapture(e.pointerId);
                    setDrag({ axis: i, y0: at(e), y1: at(e) });
                  }}
                  onPointerMove={(e) => drag?.axis === i && setDrag({ ...drag, y1: at(e) })}
                  onPointerUp={() => end(i, scales[i])}
                  onPointerCancel={() => setDrag(null)}
                >
                  <title>{`drag to keep a range of ${a.label}; click to clear`}</title>
                </rect>
              </g>
            );
          })}
        </svg>
      </div>
    </div>
  );
}

export interface ScatterPoint {
  run: Run;
  x: Value;
  y: Value;
}

/** The points a scatter can place, and how many a log axis leaves out (values <= 0). */
export function placeable(points: ScatterPoint[], sx: Scale, sy: Scale, logX: boolean, logY: boolean) {
  const nonPositive = (v: Value) => v !== null && v !== "" && Number.isFinite(Number(v)) && Number(v) <= 0;
  const leftOut = points.filter((pt) => (logX && nonPositive(pt.x)) || (logY && nonPositive(pt.y))).length;
  return { shown: points.filter((pt) => sx.pos(pt.x) !== null && sy.pos(pt.y) !== null), leftOut };
}

export function Scatter({ points, xLabel, yLabel, logX = false, logY = false }: {
  points: ScatterPoint[];
  xLabel: string;
  yLabel: string;
  logX?: boolean;
  logY?: boolean;
}) {
  const W = 640;
  const H = 400;
  const m = { l: 70, r: 20, t: 20, b: 50 };
  const sx = scaleOf(points.map((p) => p.x), logX);
  const sy = scaleOf(points.map((p) => p.y), logY);
  const { shown, leftOut } = placeable(points, sx, sy, logX && sx.kind === "number", logY && sy.kind === "number");
  const px = (t: number) => m.l + t * (W - m.l - m.r);
  const py = (t: number) => H - m.b - t * (H - m.t - m.b);
  const text = (v: Value) => (typeof v === "number" ? num(v) : String(v));
  return (
    <div>
      <svg width={W} height={H} className="plot" data-testid="scatter">
        <line x1={m.l} x2={W - m.r} y1={H - m.b} y2={H - m.b} className="axis" />
        <line x1={m.l} x2={m.l} y1={m.t} y2={H - m.b} className="axis" />
        {sx.ticks.map((t) => <text key={"x" + t.label} x={px(t.at)} y={H - m.b + 16} textAnchor="middle" className="tick">{t.label}</text>)}
        {sy.ticks.map((t) => <text key={"y" + t.label} x={m.l - 6} y={py(t.at) + 4} textAnchor="end" className="tick">{t.label}</text>)}
        <text x={(W + m.l) / 2} y={H - 10} textAnchor="middle" className="axis-label">{xLabel}{logX ? " (log)" : ""}</text>
        <text x={14} y={H / 2} textAnchor="middle" className="axis-label" transform={`rotate(-90 14 ${H / 2})`}>{yLabel}{logY ? " (log)" : ""}</text>
        {shown.map((p) => (
          <circle key={p.run.id} data-run={p.run.id} cx={px(sx.pos(p.x)!)} cy={py(sy.pos(p.y)!)} r={5} className="dot" onClick={() => navigate(`/runs/${p.run.id}`)}>
            <title>{`${p.run.name}: ${xLabel}=${text(p.x)}, ${yLabel}=${text(p.y)}`}</title>
          </circle>
        ))}
      </svg>
      {leftOut > 0 && (
        <p className="muted small" data-testid="scatter-left-out">
          {leftOut} {leftOut === 1 ? "run is" : "runs are"} left out: a log axis has no place for values of 0 or below.
        </p>
      )}
    </div>
  );
}
