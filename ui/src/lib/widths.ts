/** Runs-table column widths the user dragged, kept in localStorage for every experiment. */
import { useCallback, useState } from "react";

const STORE = "modelyard.runs.widths";
export const MIN_WIDTH = 48;
export const MAX_WIDTH = 900;

/** The width a column has before anyone resizes it. */
export function defaultWidth(id: string): number {
  if (id === "name") return 240;
  if (id === "start_time") return 170;
  if (id === "status") return 90;
  return 110;
}

export function clampWidth(px: number): number {
  return Math.round(Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, px)));
}

function load(): Record<string, number> {
  try {
    const saved: unknown = JSON.parse(localStorage.getItem(STORE) ?? "{}");
    if (!saved || typeof saved !== "object") return {};
    return Object.fromEntries(Object.entries(saved).filter(([, v]) => typeof v === "number" && Number.isFinite(v)).map(([k, v]) => [k, clampWidth(v as number)]));
  } catch {
    return {};
  }
}

/** `[width of a column, set one]`: widths survive reloads and follow the column to any experiment. */
export function useColumnWidths(): [(id: string) => number, (id: string, px: number) => void] {
  const [widths, setWidths] = useState(load);
  const widthOf = useCallback((id: string) => widths[id] ?? defaultWidth(id), [widths]);
  const setWidth = useCallback((id: string, px: number) => {
    setWidths((w) => {
      const next = { ...w, [id]: clampWidth(px) };
      try {
        localStorage.setItem(STORE, JSON.stringify(next));
      } catch {
        /* storage full or off: the width lasts this visit */
      }
      return next;
    });
  }, []);
  return [widthOf, setWidth];
}
