/** A small line of recent values (e.g. requests/s over the last minutes), drawn in SVG. */

/** Polyline points for `values` in a `width` x `height` box: oldest at the left, 0 at the bottom. */
export function sparkPoints(values: number[], width: number, height: number): string {
  const clean = values.map((v) => (Number.isFinite(v) && v > 0 ? v : 0));
  if (clean.length === 0) return "";
  const top = Math.max(...clean) || 1;
  const step = clean.length > 1 ? width / (clean.length - 1) : 0;
  const y = (v: number) => Number((height - 1 - (v / top) * (height - 2)).toFixed(2));
  return clean.map((v, i) => `${Number((i * step).toFixed(2))},${y(v)}`).join(" ");
}

export function Sparkline({ values, color, width = 120, height = 24, label }: {
  values: number[];
  color?: string;
  width?: number;
  height?: number;
  label: string;
}) {
  return (
    <svg className="sparkline" width={width} height={height} role="img" aria-label={label}>
      <title>{label}</title>
      {values.length > 1 && <polyline points={sparkPoints(values, width, height)} fill="none" stroke={color ?? "var(--accent)"} strokeWidth={1.5} />}
    </svg>
  );
}
