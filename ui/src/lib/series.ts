/** Transforms of metric series for charts: x axes, smoothing, merging onto one x grid. */

/** x by step, wall time or seconds since the first point; `metric:<name>` axes use joinByStep. */
export type XAxis = "step" | "wall" | "relative";

/** The metric an x axis reads (`metric:<name>`), or null for step and time axes. */
export function xMetric(axis: string): string | null {
  return axis.startsWith("metric:") && axis.length > 7 ? axis.slice(7) : null;
}

/** Whether an x axis needs the points' timestamps (the server may leave them out otherwise). */
export function needsTimestamps(axis: string): boolean {
  return axis === "wall" || axis === "relative";
}

/**
 * A metric against another metric of the same run, paired by step: each point's x is the other
 * metric's value at its step, interpolated between the nearest steps where the other was logged
 * (or kept after downsampling); points outside those steps are dropped. Sorted by x.
 */
export function joinByStep(
  y: { steps: number[]; values: number[] },
  x: { steps: number[]; values: number[] },
): { x: number[]; y: number[] } {
  const pairs: [number, number][] = [];
  let j = 0;
  for (let i = 0; i < y.steps.length; i++) {
    const step = y.steps[i];
    while (j < x.steps.length && x.steps[j] < step) j++;
    let at = NaN;
    if (j < x.steps.length && x.steps[j] === step) at = x.values[j];
    else if (j > 0 && j < x.steps.length) {
      const [s0, s1, v0, v1] = [x.steps[j - 1], x.steps[j], x.values[j - 1], x.values[j]];
      at = v0 + ((v1 - v0) * (step - s0)) / (s1 - s0);
    }
    if (Number.isFinite(at)) pairs.push([at, y.values[i]]);
  }
  pairs.sort((a, b) => a[0] - b[0]);
  return { x: pairs.map((p) => p[0]), y: pairs.map((p) => p[1]) };
}

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
export function xValues(axis: XAxis, steps: number[], timestamps: number[] = []): number[] {
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

/**
 * Like `align`, but when the series' x values barely overlap (each run downsampled on its own,
 * so 100 runs could give 100,000 distinct x), put them on a shared grid of `bins` buckets with
 * two slots each: the bucket's lowest and highest value, so spikes stay visible. By default
 * there are as many buckets as the longest series has points (200 to 2,000): a grid finer than
 * the series only adds empty slots to draw.
 */
export function alignBinned(series: { x: number[]; y: number[] }[], bins?: number): [number[], ...(number | null)[][]] {
  let lo = Infinity;
  let hi = -Infinity;
  let total = 0;
  let longest = 0;
  for (const s of series) {
    total += s.x.length;
    longest = Math.max(longest, s.x.length);
    for (const x of s.x) {
      if (x < lo) lo = x;
      if (x > hi) hi = x;
    }
  }
  bins ??= Math.min(2000, Math.max(200, longest));
  if (total <= 4 * bins || !(hi > lo)) return align(series);
  const width = (hi - lo) / bins;
  const grid = new Array<number>(2 * bins);
  for (let b = 0; b < bins; b++) {
    grid[2 * b] = lo + (b + 0.25) * width;
    grid[2 * b + 1] = lo + (b + 0.75) * width;
  }
  const ys = series.map((s) => {
    const y = new Array<number | null>(2 * bins).fill(null);
    for (let i = 0; i < s.x.length; i++) {
      const v = s.y[i];
      if (!Number.isFinite(v)) continue;
      const b = Math.min(bins - 1, Math.floor((s.x[i] - lo) / width));
      const low = y[2 * b];
      if (low === null) {
        y[2 * b] = v; // a bucket's only point takes one slot (the other stays empty)
        continue;
      }
      const high = y[2 * b + 1] ?? low;
      y[2 * b] = Math.min(low, v);
      y[2 * b + 1] = Math.max(high, v);
    }
    return y;
  });
  return [grid, ...ys];
}
