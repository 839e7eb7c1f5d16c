/** Parallel coordinates and a scatter plot in SVG (a few hundred runs at most on one screen). */
import type { Run } from "../lib/api";
import { num } from "../lib/format";
import { navigate } from "../lib/route";

type Value = string | number | null;

interface Scale {
  pos: (v: Value) => number | null; // 0..1, 0 at the bottom
  ticks: { at: number; label: string }[];
}

/** A linear scale when every value is a number, else one slot per distinct value. */
export function scaleOf(values: Value[]): Scale {
  const present = values.filter((v) => v !== null && v !== "" && !(typeof v === "number" && !Number.isFinite(v)));
  const numeric = present.every((v) => typeof v === "number" || !Number.isNaN(Number(v)));
  if (numeric && present.length) {
    const nums = present.map(Number);
    const lo = Math.min(...nums);
    const hi = Math.max(...nums);
    const span = hi - lo || 1;
    return {
      pos: (v) => (v === null || v === "" || !Number.isFinite(Number(v)) ? null : (Number(v) - lo) / span),
      ticks: lo === hi ? [{ at: 0, label: num(lo) }] : [0, 0.5, 1].map((t) => ({ at: t, label: num(lo + t * span) })),
    };
  }
  const cats = Array.from(new Set(present.map(String))).sort();
  const step = cats.length > 1 ? 1 / (cats.length - 1) : 0;
  return {
    pos: (v) => (v === null ? null : cats.indexOf(String(v)) * step),
    ticks: cats.slice(0, 20).map((c, i) => ({ at: i * step, label: c })),
  };
}

function heat(t: number): string {
  const hue = 240 - 200 * Math.max(0, Math.min(1, t));
  return `hsl(${hue} 75% 48%)`;
}

export function ParallelCoordinates({ runs, axes, colorBy }: {
  runs: Run[];
  axes: { id: string; label: string; value: (r: Run) => Value }[];
  colorBy: (r: Run) => number;
}) {
  if (axes.length < 2) return <p className="muted">Parallel coordinates need at least two params or metrics.</p>;
  const W = Math.max(600, axes.length * 120);
  const H = 360;
  const top = 40;
  const bottom = 30;
  const gap = (W - 80) / (axes.length - 1);
  const scales = axes.map((a) => scaleOf(runs.map(a.value)));
  const colorScale = scaleOf(runs.map(colorBy));
  const y = (p: number) => top + (1 - p) * (H - top - bottom);
  return (
    <div className="scroll-x">
      <svg width={W} height={H} className="plot" data-testid="parallel">
        {runs.map((r) => {
          const pts = axes.map((a, i) => {
            const p = scales[i].pos(a.value(r));
            return p === null ? null : `${40 + i * gap},${y(p)}`;
          });
          const c = colorScale.pos(colorBy(r));
          return (
            <polyline
              key={r.id}
              points={pts.filter(Boolean).join(" ")}
              fill="none"
              stroke={c === null ? "gray" : heat(c)}
              strokeWidth={1.5}
              opacity={0.75}
              onClick={() => navigate(`/runs/${r.id}`)}
            >
              <title>{r.name}</title>
            </polyline>
          );
        })}
        {axes.map((a, i) => (
          <g key={a.id} transform={`translate(${40 + i * gap},0)`}>
            <line y1={top} y2={H - bottom} className="axis" />
            <text y={top - 18} textAnchor="middle" className="axis-label">{a.label}</text>
            {scales[i].ticks.map((t) => (
              <text key={t.label + t.at} x={4} y={y(t.at) + 4} className="tick">{t.label}</text>
            ))}
          </g>
        ))}
      </svg>
    </div>
  );
}

export function Scatter({ points, xLabel, yLabel }: { points: { run: Run; x: Value; y: number }[]; xLabel: string; yLabel: string }) {
  const W = 640;
  const H = 400;
  const m = { l: 70, r: 20, t: 20, b: 50 };
  const sx = scaleOf(points.map((p) => p.x));
  const sy = scaleOf(points.map((p) => p.y));
  const px = (t: number) => m.l + t * (W - m.l - m.r);
  const py = (t: number) => H - m.b - t * (H - m.t - m.b);
  return (
    <svg width={W} height={H} className="plot" data-testid="scatter">
      <line x1={m.l} x2={W - m.r} y1={H - m.b} y2={H - m.b} className="axis" />
      <line x1={m.l} x2={m.l} y1={m.t} y2={H - m.b} className="axis" />
      {sx.ticks.map((t) => <text key={"x" + t.label} x={px(t.at)} y={H - m.b + 16} textAnchor="middle" className="tick">{t.label}</text>)}
      {sy.ticks.map((t) => <text key={"y" + t.label} x={m.l - 6} y={py(t.at) + 4} textAnchor="end" className="tick">{t.label}</text>)}
      <text x={(W + m.l) / 2} y={H - 10} textAnchor="middle" className="axis-label">{xLabel}</text>
      <text x={14} y={H / 2} textAnchor="middle" className="axis-label" transform={`rotate(-90 14 ${H / 2})`}>{yLabel}</text>
      {points.map((p) => {
        const a = sx.pos(p.x);
        const b = sy.pos(p.y);
        if (a === null || b === null) return null;
        return (
          <circle key={p.run.id} cx={px(a)} cy={py(b)} r={5} className="dot" onClick={() => navigate(`/runs/${p.run.id}`)}>
            <title>{`${p.run.name}: ${xLabel}=${p.x}, ${yLabel}=${num(p.y)}`}</title>
          </circle>
        );
      })}
    </svg>
  );
}
