/** The runs table: TanStack Table for columns and grouping, rows virtualised so 10,000 runs scroll freely. */
import {
  type ColumnDef,
  type ExpandedState,
  type Row,
  getCoreRowModel,
  getExpandedRowModel,
  getGroupedRowModel,
  useReactTable,
} from "@tanstack/react-table";
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useEffect, useMemo, useRef, useState } from "react";
import type { Run } from "../lib/api";
import { cellValue, columnLabel, parseColumn, sortField } from "../lib/columns";
import { duration, num, time } from "../lib/format";
import { href, navigate } from "../lib/route";

const ROW = 30;

export interface RunsTableProps {
  runs: Run[];
  columns: string[];
  sort: string;
  onSort: (sort: string) => void;
  group: string;
  selected: Set<string>;
  onSelect: (ids: string[], on: boolean) => void;
}

function width(id: string): number {
  if (id === "name") return 240;
  if (id === "start_time") return 170;
  if (id === "status") return 90;
  return 110;
}

function render(run: Run, id: string) {
  const value = cellValue(run, id);
  if (value === null) return <span className="muted">—</span>;
  if (id === "start_time") return time(value as number);
  if (id === "duration") return duration(value as number);
  if (id === "status") return <span className={"status " + run.status.toLowerCase()}>{run.status.toLowerCase()}</span>;
  if (id === "name") {
    return (
      <a href={`/runs/${run.id}`} onClick={(e) => { e.preventDefault(); navigate(`/runs/${run.id}`); }} title={run.id}>
        {run.parent_id ? "↳ " : ""}{run.name || run.id.slice(0, 8)}
      </a>
    );
  }
  return typeof value === "number" ? num(value) : value;
}

function mean(rows: Row<Run>[], id: string): number | null {
  let sum = 0;
  let n = 0;
  for (const r of rows) {
    const v = cellValue(r.original, id);
    if (typeof v === "number" && Number.isFinite(v)) { sum += v; n++; }
  }
  return n ? sum / n : null;
}

export const RunsTable = memo(function RunsTable({ runs, columns, sort, onSort, group, selected, onSelect }: RunsTableProps) {
  const [expanded, setExpanded] = useState<ExpandedState>(true);
  const [focus, setFocus] = useState(0);
  const ids = useMemo(() => ["name", "status", "start_time", "duration", "user", ...columns], [columns]);
  const defs = useMemo<ColumnDef<Run>[]>(
    () => [
      ...ids.map((id) => ({
        id,
        accessorFn: (run: Run) => cellValue(run, id),
        header: columnLabel(id),
        size: width(id),
        getGroupingValue: (run: Run) => String(cellValue(run, id) ?? "(none)"),
      })),
      ...(group && !ids.includes(group) ? [{ id: group, accessorFn: (run: Run) => String(cellValue(run, group) ?? "(none)") }] : []),
    ],
    [ids, group],
  );
  const grouping = useMemo(() => (group ? [group] : []), [group]);
  const table = useReactTable({
    data: runs,
    columns: defs,
    state: { grouping, expanded },
    onExpandedChange: setExpanded,
    getRowId: (run) => run.id,
    getCoreRowModel: getCoreRowModel(),
    getGroupedRowModel: getGroupedRowModel(),
    getExpandedRowModel: getExpandedRowModel(),
    autoResetExpanded: false,
  });
  const rows = table.getRowModel().rows;
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW,
    overscan: 12,
  });
  const total = ids.reduce((w, id) => w + width(id), 36);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const target = e.target as HTMLElement;
      if (target.closest("input, textarea, select")) return;
      if (e.key === "j" || e.key === "ArrowDown") { e.preventDefault(); setFocus((f) => Math.min(rows.length - 1, f + 1)); }
      else if (e.key === "k" || e.key === "ArrowUp") { e.preventDefault(); setFocus((f) => Math.max(0, f - 1)); }
      else if (e.key === "x" || e.key === " ") {
        const row = rows[focus];
        if (row && !row.getIsGrouped()) { e.preventDefault(); onSelect([row.id], !selected.has(row.id)); }
      } else if (e.key === "Enter" || e.key === "o") {
        const row = rows[focus];
        if (row && !row.getIsGrouped()) navigate(`/runs/${row.id}`);
        else if (row) row.toggleExpanded();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [rows, focus, selected, onSelect]);
  useEffect(() => { if (rows.length) virtual.scrollToIndex(Math.min(focus, rows.length - 1)); }, [focus]); // eslint-disable-line react-hooks/exhaustive-deps

  const allSelected = runs.length > 0 && runs.every((r) => selected.has(r.id));
  return (
    <div className="runs-table" data-testid="runs-table" data-rows={runs.length} role="table" aria-rowcount={rows.length + 1}>
      <div className="scroll" ref={scroller} data-testid="runs-scroll">
        <div className="thead" style={{ width: total }} role="row">
          <div className="th check">
            <input type="checkbox" aria-label="select all" checked={allSelected} onChange={() => onSelect(runs.map((r) => r.id), !allSelected)} />
          </div>
          {ids.map((id) => {
            const sortable = sortField(id) !== null;
            const dir = sort === id ? "asc" : sort === "-" + id ? "desc" : "";
            const kind = parseColumn(id).kind;
            return (
              <div
                key={id}
                className={`th ${kind} ${sortable ? "sortable" : ""}`}
                style={{ width: width(id) }}
                title={id + (sortable ? " (click to sort)" : "")}
                role="columnheader"
                aria-sort={dir === "asc" ? "ascending" : dir === "desc" ? "descending" : "none"}
                onClick={() => sortable && onSort(dir === "desc" ? id : "-" + id)}
              >
                {kind !== "a" && <span className="kind">{kind}</span>}
                {columnLabel(id)}
                {dir && <span className="arrow">{dir === "asc" ? " ▲" : " ▼"}</span>}
              </div>
            );
          })}
        </div>
        <div style={{ height: virtual.getTotalSize(), width: total, position: "relative" }}>
          {virtual.getVirtualItems().map((item) => {
            const row = rows[item.index];
            const style = { transform: `translateY(${item.start}px)`, width: total };
            if (row.getIsGrouped()) {
              return (
                <div key={row.id} className="tr group" style={style} data-testid="group-row" role="row" aria-expanded={row.getIsExpanded()} onClick={() => row.toggleExpanded()}>
                  <div className="td group-label">
                    {row.getIsExpanded() ? "▾" : "▸"} {columnLabel(group)} = <b>{String(row.groupingValue)}</b>{" "}
                    <span className="muted">({row.subRows.length} runs)</span>
                  </div>
                  {columns.filter((c) => parseColumn(c).kind === "m").slice(0, 3).map((c) => {
                    const m = mean(row.subRows, c);
                    return m === null ? null : <div key={c} className="td muted">mean {columnLabel(c)} {num(m)}</div>;
                  })}
                </div>
              );
            }
            return (
              <RunRow
                key={row.id}
                run={row.original}
                ids={ids}
                width={total}
                top={item.start}
                selected={selected.has(row.id)}
                focused={item.index === focus}
                onFocus={() => setFocus(item.index)}
                onSelect={onSelect}
              />
            );
          })}
        </div>
      </div>
    </div>
  );
});

/** One run's cells; memoised, so scrolling only moves rows and renders the ones coming into view. */
const RowCells = memo(function RowCells({ run, ids }: { run: Run; ids: string[] }) {
  return (
    <>
      {ids.map((id) => (
        <div key={id} className={"td " + parseColumn(id).kind} style={{ width: width(id) }} role="cell">{render(run, id)}</div>
      ))}
    </>
  );
});

const RunRow = memo(function RunRow({ run, ids, width: total, top, selected, focused, onFocus, onSelect }: {
  run: Run;
  ids: string[];
  width: number;
  top: number;
  selected: boolean;
  focused: boolean;
  onFocus: () => void;
  onSelect: (ids: string[], on: boolean) => void;
}) {
  return (
    <div
      className={`tr ${selected ? "selected" : ""} ${focused ? "focused" : ""}`}
      style={{ transform: `translateY(${top}px)`, width: total }}
      data-run={run.id}
      role="row"
      aria-selected={selected}
      onClick={onFocus}
    >
      <div className="td check">
        <input type="checkbox" aria-label={"select " + run.name} checked={selected} onChange={() => onSelect([run.id], !selected)} />
      </div>
      <RowCells run={run} ids={ids} />
    </div>
  );
}, (a, b) => a.run === b.run && a.ids === b.ids && a.top === b.top && a.selected === b.selected && a.focused === b.focused && a.width === b.width);

export function compareHref(ids: string[]): string {
  return href("/compare", { runs: ids.join(",") });
}
