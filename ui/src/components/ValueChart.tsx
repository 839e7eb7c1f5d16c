/** A metric that every run logged once, as one bar per run, best first, with its value. */
import { useEffect, useRef, useState } from "react";
import { bestFirst, type Direction } from "../lib/direction";
import { num } from "../lib/format";

export interface Bar {
  label: string;
  value: number;
  color: string;
}

const HEIGHT = 260;
const PAD = { top: 34, right: 8, bottom: 34, left: 56 };

function useWidth(): [React.RefObject<HTMLDivElement | null>, number] {
  const ref = useRef<HTMLDivElement>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const watch = new ResizeObserver(() => setWidth(el.clientWidth));
    watch.observe(el);
    setWidth(el.clientWidth);
    return () => watch.disconnect();
  }, []);
  return [ref, width];
}

export function ValueChart({ title, bars, direction }: { title: string; bars: Bar[]; direction: Direction }) {
  const [box, width] = useWidth();
  const [hover, setHover] = useState<number | null>(null);
  const order = bestFirst(direction);
  const sorted = bars.filter((b) => Number.isFinite(b.value)).sort((a, b) => order(a.value, b.value));
  const W = Math.max(200, width);
  const lo = Math.min(0, ...sorted.map((b) => b.value));
  const hi = Math.max(0, ...sorted.map((b) => b.value));
  const span = hi - lo || 1;
  const y = (v: number) => PAD.top + ((hi - v) / span) * (HEIGHT - PAD.top - PAD.bottom);
  const slot = (W - PAD.left - PAD.right) / Math.max(1, sorted.length);
  const barWidth = Math.max(1, Math.min(60, slot * 0.8));
  const shown = hover === null ? null : sorted[hover];
  return (
    <div className="value-chart" ref={box} data-testid="value-chart">
      <svg width={W} height={HEIGHT} className="plot" role="img" aria-label={`${title}: one value per run`}>
        <text x={W / 2} y={18} textAnchor="middle" className="plot-title">{title}</text>
        {shown && <text x={W - PAD.right} y={18} textAnchor="end" className="muted small" data-testid="value-hover">{shown.label}: {num(shown.value)}</text>}
        <line x1={PAD.left} x2={W - PAD.right} y1={y(0)} y2={y(0)} className="axis" />
        {[lo, hi].map((v) => (
          <text key={v} x={PAD.left - 6} y={y(v) + 4} textAnchor="end" className="tick">{num(v)}</text>
        ))}
        {sorted.map((b, i) => {
          const x = PAD.left + i * slot + (slot - barWidth) / 2;
          const top = Math.min(y(b.value), y(0));
          return (
            <g key={b.label + i} data-run={b.label} data-value={b.value} onMouseEnter={() => setHover(i)} onMouseLeave={() => setHover(null)}>
              <rect x={x} y={top} width={barWidth} height={Math.max(1, Math.abs(y(b.value) - y(0)))} fill={b.color} opacity={hover === null || hover === i ? 1 : 0.4}>
                <title>{b.label}: {num(b.value)}</title>
              </rect>
              {slot >= 34 && <text x={x + barWidth / 2} y={top - 4} textAnchor="middle" className="bar-value">{num(b.value)}</text>}
              {slot >= 50 && <text x={x + barWidth / 2} y={HEIGHT - PAD.bottom + 16} textAnchor="middle" className="tick">{b.label.length > 10 ? b.label.slice(0, 9) + "…" : b.label}</text>}
            </g>
          );
        })}
      </svg>
    </div>
  );
}
