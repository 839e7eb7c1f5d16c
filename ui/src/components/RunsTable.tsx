/** The runs table: TanStack Table for grouping, nested runs under their parents, rows virtualised
 * so 10,000 runs scroll freely; a sticky name column and columns resized by dragging. */
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
import { cellValue, columnField, columnLabel, parseColumn, sortField } from "../lib/columns";
import { duration, num, time } from "../lib/format";
import { isShortcut } from "../lib/keys";
import { nest } from "../lib/nesting";
import { href, navigate } from "../lib/route";
import { clampWidth, useColumnWidths } from "../lib/widths";
import "./RunsTable.css";

const ROW = 30;
const NO_RUNS: Run[] = []; // one array: a new one each render would reset the table's state each render
const CHECK = 36;
export const ATTRIBUTE_IDS = ["name", "status", "start_time", "duration", "user"];

export interface RunsTableProps {
  runs: Run[];
  columns: string[];
  sort: string;
  onSort: (sort: string) => void;
  group: string;
  selected: Set<string>;
  onSelect: (ids: string[], on: boolean) => void;
  /** parents whose children are shown */
  open: Set<string>;
  onToggle: (id: string) => void;
}

/** One line of the table: a group's header, or a run (at a nesting depth, with its child count). */
type Line =
  | { kind: "group"; row: Row<Run> }
  | { kind: "run"; run: Run; depth: number; children: number };

function render(run: Run, id: string) {
  const value = cellValue(run, id);
  if (value === null) return <span className="muted">—</span>;
  if (id === "start_time") return time(value as number);
  if (id === "duration") return duration(value as number);
  if (id === "status") return <span className={"status " + run.status.toLowerCase()}>{run.status.toLowerCase()}</span>;
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

export const RunsTable = memo(function RunsTable({ runs, columns, sort, onSort, group, selected, onSelect, open, onToggle }: RunsTableProps) {
  const [expanded, setExpanded] = useState<ExpandedState>(true);
  const [focus, setFocus] = useState(0);
  const [widthOf, setWidth] = useColumnWidths();
  const ids = useMemo(() => [...ATTRIBUTE_IDS, ...columns], [columns]);
  const defs = useMemo<ColumnDef<Run>[]>(
    () => [
      ...ids.map((id) => ({
        id,
        accessorFn: (run: Run) => cellValue(run, id),
        header: columnLabel(id),
        getGroupingValue: (run: Run) => String(cellValue(run, id) ?? "(none)"),
      })),
      ...(group && !ids.includes(group) ? [{ id: group, accessorFn: (run: Run) => String(cellValue(run, group) ?? "(none)") }] : []),
    ],
    [ids, group],
  );
  const grouping = useMemo(() => (group ? [group] : []), [group]);
  const table = useReactTable({
    data: group ? runs : NO_RUNS,
    columns: defs,
    state: { grouping, expanded },
    onExpandedChange: setExpanded,
    getRowId: (run) => run.id,
    getCoreRowModel: getCoreRowModel(),
    getGroupedRowModel: getGroupedRowModel(),
    getExpandedRowModel: getExpandedRowModel(),
    autoResetExpanded: false,
  });
  const groupedRows = table.getRowModel().rows;
  const lines = useMemo<Line[]>(
    () =>
      group
        ? groupedRows.map((row) => (row.getIsGrouped() ? { kind: "group", row } : { kind: "run", run: row.original, depth: 0, children: 0 }))
        : nest(runs, open).map((n) => ({ kind: "run", ...n })),
    [group, groupedRows, runs, open],
  );
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: lines.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW,
    overscan: 12,
  });
  const widths = useMemo(() => ids.map(widthOf), [ids, widthOf]);
  const total = widths.reduce((w, x) => w + x, CHECK);
  const labelWidth = CHECK + widths.slice(0, ATTRIBUTE_IDS.length).reduce((w, x) => w + x, 0);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!isShortcut(e)) return;
      const line = lines[focus];
      if (e.key === "j" || e.key === "ArrowDown") { e.preventDefault(); setFocus((f) => Math.min(lines.length - 1, f + 1)); }
      else if (e.key === "k" || e.key === "ArrowUp") { e.preventDefault(); setFocus((f) => Math.max(0, f - 1)); }
      else if (e.key === "x" || e.key === " ") {
        if (line?.kind === "run") { e.preventDefault(); onSelect([line.run.id], !selected.has(line.run.id)); }
      } else if (e.key === "Enter" || e.key === "o") {
        if (line?.kind === "run") navigate(`/runs/${line.run.id}`);
        else if (line) line.row.toggleExpanded();
      } else if ((e.key === "ArrowRight" || e.key === "ArrowLeft" || e.key === "l" || e.key === "h") && line?.kind === "run" && line.children) {
        const want = e.key === "ArrowRight" || e.key === "l";
        if (want !== open.has(line.run.id)) { e.preventDefault(); onToggle(line.run.id); }
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [lines, focus, selected, onSelect, open, onToggle]);
  useEffect(() => { if (lines.length) virtual.scrollToIndex(Math.min(focus, lines.length - 1)); }, [focus]); // eslint-disable-line react-hooks/exhaustive-deps

  const allSelected = runs.length > 0 && runs.every((r) => selected.has(r.id));
  return (
    <div className="runs-table" data-testid="runs-table" data-rows={runs.length} role="table" aria-rowcount={lines.length + 1}>
      <div className="scroll" ref={scroller} data-testid="runs-scroll">
        <div className="thead" style={{ width: total }} role="row">
          <div className="th check sticky" style={{ left: 0 }}>
            <input type="checkbox" aria-label="select all" checked={allSelected} onChange={() => onSelect(runs.map((r) => r.id), !allSelected)} />
          </div>
          {ids.map((id, i) => (
            <Header key={id} id={id} width={widths[i]} sort={sort} onSort={onSort} onResize={(px) => setWidth(id, px)} />
          ))}
        </div>
        <div style={{ height: virtual.getTotalSize(), width: total, position: "relative" }}>
          {virtual.getVirtualItems().map((item) => {
            const line = lines[item.index];
            const style = { transform: `translateY(${item.start}px)`, width: total };
            if (line.kind === "group") {
              const row = line.row;
              const label = `${columnLabel(group)} = ${String(row.groupingValue)}`;
              return (
                <div key={row.id} className={`tr group ${item.index === focus ? "focused" : ""}`} style={style} data-testid="group-row" role="row" aria-expanded={row.getIsExpanded()} onClick={() => row.toggleExpanded()}>
                  <div className="td group-label sticky" style={{ width: labelWidth, left: 0 }} title={label} role="cell">
                    {row.getIsExpanded() ? "▾" : "▸"} {columnLabel(group)} = <b>{String(row.groupingValue)}</b>{" "}
                    <span className="muted">({row.subRows.length} runs)</span>
                  </div>
                  {columns.map((c, i) => {
                    const m = parseColumn(c).kind === "m" ? mean(row.subRows, c) : null;
                    return (
                      <div key={c} className={"td " + parseColumn(c).kind} style={{ width: widths[ATTRIBUTE_IDS.length + i] }} role="cell" data-col={c} title={m === null ? undefined : `mean ${columnField(c)} over the group's runs`}>
                        {m === null ? "" : <span className="mean">{num(m)}</span>}
                      </div>
                    );
                  })}
                </div>
              );
            }
            return (
              <RunRow
                key={line.run.id}
                run={line.run}
                depth={line.depth}
                children={line.children}
                isOpen={open.has(line.run.id)}
                onToggle={onToggle}
                ids={ids}
                widths={widths}
                width={total}
                top={item.start}
                selected={selected.has(line.run.id)}
                focused={item.index === focus}
                index={item.index}
                onFocus={setFocus}
                onSelect={onSelect}
              />
            );
          })}
        </div>
      </div>
    </div>
  );
});

/** A column's header: a sort button and a drag handle (arrow keys resize it too). */
function Header({ id, width, sort, onSort, onResize }: {
  id: string;
  width: number;
  sort: string;
  onSort: (sort: string) => void;
  onResize: (px: number) => void;
}) {
  const sortable = sortField(id) !== null;
  const dir = sort === id ? "asc" : sort === "-" + id ? "desc" : "";
  const kind = parseColumn(id).kind;
  const label = (
    <>
      {kind !== "a" && <span className="kind">{kind}</span>}
      {columnLabel(id)}
      {dir && <span className="arrow">{dir === "asc" ? " ▲" : " ▼"}</span>}
    </>
  );
  const drag = (e: React.PointerEvent<HTMLSpanElement>) => {
    e.preventDefault();
    e.stopPropagation();
    const start = e.clientX;
    const handle = e.currentTarget;
    handle.setPointerCapture(e.pointerId);
    const move = (ev: PointerEvent) => onResize(width + ev.clientX - start);
    const up = () => {
      handle.removeEventListener("pointermove", move);
      handle.removeEventListener("pointerup", up);
      handle.removeEventListener("pointercancel", up);
    };
    handle.addEventListener("pointermove", move);
    handle.addEventListener("pointerup", up);
    handle.addEventListener("pointercancel", up);
  };
  return (
    <div
      className={`th ${kind} ${sortable ? "sortable" : ""} ${id === "name" ? "sticky" : ""}`}
      style={{ width, left: id === "name" ? CHECK : undefined }}
      title={columnField(id) + (sortable ? " (click to sort)" : "")}
      role="columnheader"
      data-col={id}
      aria-sort={dir === "asc" ? "ascending" : dir === "desc" ? "descending" : "none"}
    >
      {sortable ? (
        <button type="button" className="th-sort" onClick={() => onSort(dir === "desc" ? id : "-" + id)}>{label}</button>
      ) : (
        <span className="th-label">{label}</span>
      )}
      <span
        className="resize"
        role="separator"
        aria-orientation="vertical"
        aria-label={`resize ${columnLabel(id)}`}
        aria-valuenow={width}
        tabIndex={0}
        data-testid={`resize-${id}`}
        onPointerDown={drag}
        onClick={(e) => e.stopPropagation()}
        onKeyDown={(e) => {
          if (e.key === "ArrowLeft" || e.key === "ArrowRight") {
            e.preventDefault();
            onResize(clampWidth(width + (e.key === "ArrowRight" ? 16 : -16)));
          }
        }}
      />
    </div>
  );
}

/** The name cell: indented by depth, a toggle for a parent's children, the name cut with an ellipsis (full in its tooltip). */
function NameCell({ run, depth, children, isOpen, onToggle, width }: {
  run: Run;
  depth: number;
  children: number;
  isOpen: boolean;
  onToggle: (id: string) => void;
  width: number;
}) {
  const name = run.name || run.id.slice(0, 8);
  return (
    <div className="td a name sticky" style={{ width, left: CHECK }} role="cell">
      <span className="nest" style={{ width: 18 + depth * 16 }}>
        {children > 0 ? (
          <button
            type="button"
            className="nest-toggle"
            aria-expanded={isOpen}
            aria-label={`${isOpen ? "hide" : "show"} ${children} child run${children === 1 ? "" : "s"} of ${name}`}
            data-testid="nest-toggle"
            onClick={(e) => { e.stopPropagation(); onToggle(run.id); }}
          >
            {isOpen ? "▾" : "▸"}
          </button>
        ) : run.parent_id ? <span className="muted" title="a child run">↳</span> : null}
      </span>
      <a
        className="run-name"
        href={`/runs/${run.id}`}
        onClick={(e) => { if (e.button === 0 && !e.ctrlKey && !e.metaKey && !e.shiftKey) { e.preventDefault(); navigate(`/runs/${run.id}`); } }}
        title={name}
      >
        {name}
      </a>
      {children > 0 && <span className="muted nest-count"> {children}</span>}
    </div>
  );
}

/** One run's cells after the name; memoised, so scrolling only moves rows and renders the ones coming into view. */
const RowCells = memo(function RowCells({ run, ids, widths }: { run: Run; ids: string[]; widths: number[] }) {
  return (
    <>
      {ids.map((id, i) => (i === 0 ? null : (
        <div key={id} className={"td " + parseColumn(id).kind} style={{ width: widths[i] }} role="cell">{render(run, id)}</div>
      )))}
    </>
  );
});

const RunRow = memo(function RunRow({ run, depth, children, isOpen, onToggle, ids, widths, width: total, top, selected, focused, index, onFocus, onSelect }: {
  run: Run;
  depth: number;
  children: number;
  isOpen: boolean;
  onToggle: (id: string) => void;
  ids: string[];
  widths: number[];
  width: number;
  top: number;
  selected: boolean;
  focused: boolean;
  index: number;
  onFocus: (index: number) => void;
  onSelect: (ids: string[], on: boolean) => void;
}) {
  return (
    <div
      className={`tr ${selected ? "selected" : ""} ${focused ? "focused" : ""} ${depth ? "child" : ""}`}
      style={{ transform: `translateY(${top}px)`, width: total }}
      data-run={run.id}
      data-depth={depth}
      role="row"
      aria-selected={selected}
      aria-level={depth + 1}
      onClick={() => onFocus(index)}
    >
      <div className="td check sticky" style={{ left: 0 }}>
        <input type="checkbox" aria-label={"select " + (run.name || run.id)} checked={selected} onChange={() => onSelect([run.id], !selected)} />
      </div>
      <NameCell run={run} depth={depth} children={children} isOpen={isOpen} onToggle={onToggle} width={widths[0]} />
      <RowCells run={run} ids={ids} widths={widths} />
    </div>
  );
}, (a, b) =>
  a.run === b.run && a.ids === b.ids && a.widths === b.widths && a.top === b.top && a.selected === b.selected &&
  a.focused === b.focused && a.width === b.width && a.depth === b.depth && a.children === b.children &&
  a.isOpen === b.isOpen && a.index === b.index && a.onToggle === b.onToggle);

export function compareHref(ids: string[]): string {
  return href("/compare", { runs: ids.join(",") });
}
