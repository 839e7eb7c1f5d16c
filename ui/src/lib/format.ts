/** Text for numbers, times, durations and sizes. */

export function num(value: unknown, digits = 4): string {
  if (value === null || value === undefined || value === "") return "";
  if (typeof value === "string") return value; // "NaN", "Infinity"
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return value.toLocaleString("en-US");
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(digits - 1);
  return Number(value.toPrecision(digits)).toString();
}

/** Labels for an axis' ticks with as many decimals as it takes to tell neighbours apart
 * (uPlot's default keeps 3, so ticks 0.0005 apart read "0.864, 0.864"); each label is the tick's
 * value, not a rounding of it. */
export function tickLabels(splits: number[]): string[] {
  const finite = splits.filter(Number.isFinite);
  const big = finite.some((v) => Math.abs(v) >= 1e6) || finite.every((v) => v === 0 || Math.abs(v) < 1e-4);
  if (big && finite.some((v) => v !== 0)) {
    return splits.map((v) => (Number.isFinite(v) ? (v === 0 ? "0" : v.toExponential(2)) : ""));
  }
  const gaps = finite.slice(1).map((v, i) => Math.abs(v - finite[i])).filter((g) => g > 0);
  const tolerance = (gaps.length ? Math.min(...gaps) : 1) * 1e-6;
  for (let decimals = 0; decimals <= 10; decimals++) {
    const out = splits.map((v) => (Number.isFinite(v) ? v.toFixed(decimals) : ""));
    if (splits.every((v, i) => !Number.isFinite(v) || Math.abs(Number(out[i]) - v) <= tolerance)) {
      return out.map((t) => (Number(t) === 0 ? "0" : t));
    }
  }
  return splits.map(String);
}

export function time(ms: number | null | undefined): string {
  if (!ms) return "";
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s % 60)} s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min`;
  return `${Math.floor(h / 24)} d ${h % 24} h`;
}

export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, (now - ms) / 1000);
  if (s < 60) return "just now";
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** A metric value as a number for charts and sorting ("NaN" and friends become NaN/±Inf). */
export function toNumber(value: number | string | null | undefined): number {
  if (typeof value === "number") return value;
  if (value === "Infinity") return Infinity;
  if (value === "-Infinity") return -Infinity;
  if (value === null || value === undefined || value === "") return NaN;
  return Number(value);
}
