/** Transforms of metric series for charts: x axes, smoothing, merging onto one x grid. */

export type XAxis = "step" | "wall" | "relative";

/** Exponential moving average with TensorBoard's debiasing; NaN points are skipped. */
export function smooth(values: ArrayLike<number>, weight: number): number[] {
  const out = new Array<number>(values.length);
  if (weight <= 0) {
    for (let i = 0; i < values.length; i++) out[i] = values[i];
    return out;
  }
  let last = 0;
  let n = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) {
      out[i] = v;
      continue;
    }
    last = last * weight + (1 - weight) * v;
    n++;
    out[i] = last / (1 - Math.pow(weight, n));
  }
  return out;
}

/** x values of a series on the chosen axis: step, wall time (s), or seconds since its first point. */
export function xValues(axis: XAxis, steps: number[], timestamps: number[]): number[] {
  if (axis === "step") return steps;
  if (axis === "wall") return timestamps.map((t) => t / 1000);
  const t0 = timestamps.length ? timestamps[0] : 0;
  return timestamps.map((t) => (t - t0) / 1000);
}

/**
 * Put many series on one sorted x grid (uPlot's data layout): one x array, and per series
 * a y array with null where that series has no point at that x.
 */
export function align(series: { x: number[]; y: number[] }[]): [number[], ...(number | null)[][]] {
  const xs = new Set<number>();
  for (const s of series) for (const x of s.x) xs.add(x);
  const grid = Float64Array.from(xs).sort();
  const index = new Map<number, number>();
  grid.forEach((x, i) => index.set(x, i));
  const ys = series.map((s) => {
    const y = new Array<number | null>(grid.length).fill(null);
    for (let i = 0; i < s.x.length; i++) {
      const v = s.y[i];
      y[index.get(s.x[i])!] = Number.isFinite(v) ? v : null;
    }
    return y;
  });
  return [Array.from(grid), ...ys];
}

/** Distinct, readable colours for many series (golden-angle hues). */
export function color(i: number, dark = false): string {
  const hue = (i * 137.508 + 210) % 360;
  return `hsl(${hue.toFixed(1)} 70% ${dark ? 62 : 45}%)`;
}
