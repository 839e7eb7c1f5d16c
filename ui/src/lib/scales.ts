/** Axis scales for the SVG plots: linear or log for numbers, one slot per value for text. */
import { num } from "./format";

export type Value = string | number | null;

export interface Scale {
  kind: "number" | "category";
  /** 0..1 (0 at the bottom or left); null when the value has no place on this axis */
  pos: (v: Value) => number | null;
  ticks: { at: number; label: string }[];
  /** numbers: the value at a position */
  invert: (p: number) => number;
  /** text: the values in axis order */
  categories: string[];
}

function present(values: Value[]): Value[] {
  return values.filter((v) => v !== null && v !== "" && !(typeof v === "number" && !Number.isFinite(v)));
}

/** Every present value is a number (or a numeric text such as a param "0.01"). */
export function isNumeric(values: Value[]): boolean {
  const some = present(values);
  return some.length > 0 && some.every((v) => typeof v === "number" || Number.isFinite(Number(v)));
}

/** A tick's text: as `num`, without the zeros of a mantissa (`1e-4`, not `1.000e-4`). */
const tick = (v: number) => num(v).replace(/\.?0+e/, "e");

const asNumber = (v: Value): number => (v === null || v === "" ? NaN : Number(v));

/** A linear scale (log when `log`: only positive values have a place) when every value is a
 * number, else one slot per distinct value. */
export function scaleOf(values: Value[], log = false): Scale {
  if (isNumeric(values)) {
    const f = log ? Math.log10 : (x: number) => x;
    const inv = log ? (y: number) => 10 ** y : (y: number) => y;
    const nums = present(values).map(Number).filter((x) => !log || x > 0).map(f);
    const lo = nums.length ? Math.min(...nums) : 0;
    const hi = nums.length ? Math.max(...nums) : 1;
    const span = hi - lo || 1;
    const pos = (v: Value) => {
      const x = asNumber(v);
      return !Number.isFinite(x) || (log && x <= 0) ? null : (f(x) - lo) / span;
    };
    let ticks = lo === hi ? [{ at: 0, label: tick(inv(lo)) }] : [0, 0.5, 1].map((t) => ({ at: t, label: tick(inv(lo + t * span)) }));
    if (log && hi - lo >= 1) { // one tick per power of ten
      const every = Math.ceil((Math.floor(hi) - Math.ceil(lo) + 1) / 10); // at most 10 ticks
      const powers = [];
      for (let e = Math.ceil(lo); e <= Math.floor(hi); e += every) powers.push(e);
      ticks = powers.map((e) => ({ at: (e - lo) / span, label: tick(10 ** e) }));
    }
    return { kind: "number", pos, ticks, invert: (p) => inv(lo + p * span), categories: [] };
  }
  const cats = Array.from(new Set(present(values).map(String))).sort();
  const step = cats.length > 1 ? 1 / (cats.length - 1) : 0;
  return {
    kind: "category",
    pos: (v) => (v === null || !cats.includes(String(v)) ? null : cats.indexOf(String(v)) * step),
    ticks: cats.slice(0, 20).map((c, i) => ({ at: i * step, label: c })),
    invert: () => NaN,
    categories: cats,
  };
}

/** Hue from blue (0) to orange (1), for colouring by a metric. */
export function heat(t: number): string {
  const hue = 240 - 200 * Math.max(0, Math.min(1, t));
  return `hsl(${hue} 75% 48%)`;
}
