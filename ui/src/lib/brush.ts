/**
 * Brushes on parallel-coordinate axes, kept in the URL (`brush=`): a run stays when its value is
 * inside every brush. An axis of numbers keeps a range (`m:acc:0.5:0.9`), an axis of text the
 * values covered (`p:optimizer:[adam|sgd]`, each value percent-encoded).
 */
import { joinList } from "./route";
import type { Scale, Value } from "./scales";

export type Brush = { axis: string; lo: number; hi: number } | { axis: string; values: string[] };

const NUMBER = String.raw`-?(?:\d+(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?`;
const RANGE = new RegExp(`^(.+):(${NUMBER}):(${NUMBER})$`, "si");
const VALUES = /^(.+):\[([^\]]*)\]$/s;

function decode(text: string): string | null {
  try {
    return decodeURIComponent(text);
  } catch {
    return null;
  }
}

/** The brushes of a `brush=` value; malformed items are left out. */
export function parseBrushes(text: string): Brush[] {
  const out: Brush[] = [];
  const items = text ? text.split(",").map(decode) : []; // as splitList, but a bad escape is skipped
  for (const item of items) {
    if (!item) continue;
    const range = RANGE.exec(item);
    if (range) {
      const [a, b] = [Number(range[2]), Number(range[3])];
      if (Number.isFinite(a) && Number.isFinite(b)) out.push({ axis: range[1], lo: Math.min(a, b), hi: Math.max(a, b) });
      continue;
    }
    const cats = VALUES.exec(item);
    if (cats) {
      const values = cats[2].split("|").map(decode);
      if (values.every((v): v is string => v !== null)) out.push({ axis: cats[1], values });
    }
  }
  return out;
}

export function formatBrushes(brushes: Brush[]): string {
  return joinList(
    brushes.map((b) => ("values" in b ? `${b.axis}:[${b.values.map(encodeURIComponent).join("|")}]` : `${b.axis}:${b.lo}:${b.hi}`)),
  );
}

export function inBrush(brush: Brush, value: Value): boolean {
  if (value === null || value === "") return false;
  if ("values" in brush) return brush.values.includes(String(value));
  const x = Number(value);
  return Number.isFinite(x) && x >= brush.lo && x <= brush.hi;
}

/** The brushes with `axis`'s replaced by `next` (or removed when null). */
export function withBrush(brushes: Brush[], axis: string, next: Brush | null): Brush[] {
  const rest = brushes.filter((b) => b.axis !== axis);
  return next ? [...rest, next] : rest;
}

/** A brush covering the positions p0..p1 (0..1) of an axis; null when it covers no value. */
export function brushOver(axis: string, scale: Scale, p0: number, p1: number): Brush | null {
  const [a, b] = [Math.max(0, Math.min(p0, p1)), Math.min(1, Math.max(p0, p1))];
  if (scale.kind === "category") {
    const values = scale.categories.filter((c) => {
      const p = scale.pos(c);
      return p !== null && p >= a && p <= b;
    });
    return values.length ? { axis, values } : null;
  }
  const round = (x: number) => Number(x.toPrecision(6));
  return { axis, lo: round(scale.invert(a)), hi: round(scale.invert(b)) };
}

/** Where a brush sits on its axis (0..1), or null when nothing on the axis is in it. */
export function brushSpan(brush: Brush, scale: Scale): [number, number] | null {
  if ("values" in brush) {
    const ps = brush.values.map((v) => scale.pos(v)).filter((p): p is number => p !== null);
    return ps.length ? [Math.min(...ps), Math.max(...ps)] : null;
  }
  if (scale.kind === "category") return null;
  const clamp = (p: number | null) => (p === null ? null : Math.max(0, Math.min(1, p)));
  const lo = clamp(scale.pos(brush.lo));
  const hi = clamp(scale.pos(brush.hi));
  return lo === null || hi === null ? null : [lo, hi];
}
