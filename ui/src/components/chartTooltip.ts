/**
 * A uPlot plugin: on hover, a tooltip lists every series' value at the cursor's x, best first
 * (by the metric's direction), and the series nearest the cursor is focused (the others fade)
 * and marked in the list. The chart's element says which series is focused (`data-focused`).
 */
import type uPlot from "uplot";
import { bestFirst, type Direction } from "../lib/direction";

/** Rows a tooltip lists at most; the focused series is added when it ranks below them. */
export const TOOLTIP_ROWS = 15;

export interface TooltipRow {
  series: number;
  label: string;
  value: number;
  focused: boolean;
}

/** The rows of a tooltip: every series with a value, best first; at most `limit` of them plus
 * the focused one, and how many more were left out. `values[0]` is the x (not a series). */
export function tooltipRows(
  values: (number | null)[],
  labels: string[],
  direction: Direction,
  focused: number | null,
  limit = TOOLTIP_ROWS,
): { rows: TooltipRow[]; more: number } {
  const all: TooltipRow[] = [];
  for (let i = 1; i < values.length; i++) {
    const value = values[i];
    if (value !== null && Number.isFinite(value)) all.push({ series: i, label: labels[i - 1], value, focused: i === focused });
  }
  const order = bestFirst(direction);
  all.sort((a, b) => order(a.value, b.value));
  const rows = all.slice(0, limit);
  const hidden = all.slice(limit).find((r) => r.focused);
  if (hidden) rows.push(hidden);
  return { rows, more: all.length - rows.length };
}

export interface TooltipOptions {
  labels: string[];
  colors: string[];
  direction: Direction;
  formatX: (x: number) => string;
  formatY: (y: number) => string;
}

/** The tooltip and focus plugin (see the module's docstring). */
export function tooltipPlugin({ labels, colors, direction, formatX, formatY }: TooltipOptions): uPlot.Plugin {
  let tip: HTMLDivElement;
  let focused: number | null = null;

  function render(u: uPlot) {
    const idx = u.cursor.idx;
    const left = u.cursor.left ?? -1;
    if (idx === null || idx === undefined || left < 0) {
      tip.hidden = true;
      return;
    }
    const idxs = u.cursor.idxs ?? [];
    const values = u.data.map((ys, i) => {
      const at = idxs[i];
      return i === 0 || at === null || at === undefined ? null : ((ys[at] as number | null | undefined) ?? null);
    });
    const { rows, more } = tooltipRows(values, labels, direction, focused);
    tip.replaceChildren();
    const head = document.createElement("div");
    head.className = "tip-x";
    head.textContent = formatX(u.data[0][idx]);
    tip.append(head);
    for (const row of rows) {
      const line = document.createElement("div");
      line.className = "tip-row" + (row.focused ? " focused" : "");
      line.dataset.series = row.label;
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.style.background = colors[row.series - 1];
      const name = document.createElement("span");
      name.className = "tip-name";
      name.textContent = row.label;
      const value = document.createElement("span");
      value.className = "tip-value";
      value.textContent = formatY(row.value);
      line.append(swatch, name, value);
      tip.append(line);
    }
    if (more > 0) {
      const rest = document.createElement("div");
      rest.className = "muted";
      rest.textContent = `and ${more} more`;
      tip.append(rest);
    }
    tip.hidden = rows.length === 0;
    // beside the cursor, on the side with room
    const top = u.cursor.top ?? 0;
    const flip = left > u.over.clientWidth / 2;
    tip.style.left = flip ? "" : `${left + 14}px`;
    tip.style.right = flip ? `${u.over.clientWidth - left + 14}px` : "";
    tip.style.top = `${Math.max(0, Math.min(top - 10, u.over.clientHeight - tip.offsetHeight))}px`;
  }

  return {
    hooks: {
      init: (u) => {
        tip = document.createElement("div");
        tip.className = "chart-tooltip";
        tip.dataset.testid = "chart-tooltip";
        tip.hidden = true;
        u.over.appendChild(tip);
        u.over.addEventListener("mouseleave", () => (tip.hidden = true));
      },
      setCursor: (u) => render(u),
      setSeries: (u, i, opts) => {
        if ((opts as { focus?: boolean }).focus === undefined) return; // a series shown or hidden
        focused = i;
        const root = u.root.parentElement;
        if (root) {
          if (i === null) delete root.dataset.focused;
          else root.dataset.focused = labels[i - 1];
        }
        render(u);
      },
    },
  };
}
