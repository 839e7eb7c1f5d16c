/** Experiments and their runs: filter, sort, columns, group, nest, select, compare, delete and
 * restore, export, a chart panel; live while runs run. */
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { ApiError, api, type Experiment, type Run } from "../lib/api";
import { keyCounts, keysOf, runIdsIn } from "../lib/complete";
import { defaultColumns, orderBy } from "../lib/columns";
import { isShortcut } from "../lib/keys";
import { runsApi, type RunView } from "../lib/runsApi";
import { href, joinList, navigate, splitList, useQueryParam } from "../lib/route";
import { useAsync } from "../lib/useAsync";
import { ColumnChooser } from "../components/ColumnChooser";
import { FilterBar, type FilterError } from "../components/FilterBar";
import { RunActions } from "../components/RunActions";
import { RunsChartPanel } from "../components/RunsChartPanel";
import { ATTRIBUTE_IDS, RunsTable, compareHref } from "../components/RunsTable";
import { SavedViews } from "../components/SavedViews";

const FIRST_PAGE = 1000;
const NEXT_PAGES = 5000;

interface Loaded {
  runs: Run[];
  done: boolean;
  error: FilterError | null;
  /** the filter and order of the runs shown (after a bad filter, the last good ones) */
  shown: { filter: string; sort: string };
}

/** All runs matching the query, first page first; live: running runs and new ones are polled.
 * A refused filter keeps the last good runs, with the error beside them. */
function useRuns(experimentId: number, filter: string, sort: string, live: boolean, view: RunView, reload: number): Loaded {
  const [state, setState] = useState<Loaded>({ runs: [], done: false, error: null, shown: { filter, sort } });
  const runsRef = useRef<Run[]>([]);
  useEffect(() => {
    const ctrl = new AbortController();
    const order = orderBy(sort);
    setState((s) => ({ ...s, done: false }));
    (async () => {
      let token: string | null = null;
      let all: Run[] = [];
      do {
        const page = await runsApi.search(
          { experiment_ids: [experimentId], filter: filter || undefined, order_by: order, max_results: token ? NEXT_PAGES : FIRST_PAGE, page_token: token, view },
          ctrl.signal,
        );
        all = all.concat(page.runs);
        token = page.next_page_token;
        runsRef.current = all;
        if (!ctrl.signal.aborted) setState({ runs: all, done: !token, error: null, shown: { filter, sort } });
      } while (token && !ctrl.signal.aborted);
    })().catch((err) => {
      if (ctrl.signal.aborted) return;
      const error = err instanceof ApiError
        ? { message: err.message, position: typeof err.details.position === "number" ? err.details.position : null }
        : { message: String(err), position: null };
      setState((s) => ({ ...s, done: true, error }));
    });
    return () => ctrl.abort();
  }, [experimentId, filter, sort, view, reload]);

  useEffect(() => {
    if (!live || view !== "active" || !state.done || state.error) return;
    const running = runsRef.current.filter((r) => r.status === "RUNNING");
    const delay = running.length ? 2000 : 10000;
    const timer = setTimeout(async () => {
      const latest = runsRef.current.reduce((t, r) => Math.max(t, r.start_time), 0);
      const ids = running.slice(0, 500).map((r) => r.id);
      const changed = `start_time > ${latest}` + (ids.length ? ` OR ${runIdsIn(ids)}` : "");
      const where = filter ? `(${filter}) AND (${changed})` : changed;
      try {
        const page = await api.searchRuns({ experiment_ids: [experimentId], filter: where, order_by: orderBy(sort), max_results: 1000 });
        const byId = new Map(page.runs.map((r) => [r.id, r]));
        const known = new Set(runsRef.current.map((r) => r.id));
        const fresh = page.runs.filter((r) => !known.has(r.id));
        const merged = [...fresh, ...runsRef.current.map((r) => byId.get(r.id) ?? r)];
        runsRef.current = merged;
        setState((s) => ({ ...s, runs: merged }));
      } catch {
        setState((s) => ({ ...s })); // try again on the next tick
      }
    }, delay);
    return () => clearTimeout(timer);
  }, [live, view, state, experimentId, filter, sort]);
  return state;
}

function Experiments({ experiments, current }: { experiments: Experiment[]; current: number }) {
  const [needle, setNeedle] = useState("");
  return (
    <nav className="sidebar" aria-label="Experiments">
      <input placeholder="find an experiment" value={needle} onChange={(e) => setNeedle(e.target.value)} />
      <ul>
        {experiments
          .filter((e) => e.name.toLowerCase().includes(needle.toLowerCase()))
          .map((e) => (
            <li key={e.id} className={e.id === current ? "active" : ""}>
              <a href={`/experiments/${e.id}`} onClick={(ev) => { ev.preventDefault(); navigate(`/experiments/${e.id}`); }}>
                {e.name}
              </a>
            </li>
          ))}
      </ul>
    </nav>
  );
}

export function RunsPage({ experimentId }: { experimentId: number | null }) {
  const experiments = useAsync(() => api.experiments(), []);
  const list = experiments.data ?? [];
  // Without an id in the URL, open the newest experiment.
  const fallback = list.length ? [...list].sort((a, b) => b.created_at - a.created_at)[0].id : null;
  const current = experimentId ?? fallback;
  useEffect(() => {
    if (experimentId === null && fallback !== null) navigate(`/experiments/${fallback}`, true);
  }, [experimentId, fallback]);
  if (experiments.error) return <p className="error">{experiments.error.message}</p>;
  if (current === null) return <p className="muted">Loading experiments…</p>;
  return (
    <div className="with-sidebar">
      <Experiments experiments={list} current={current} />
      <ExperimentRuns key={current} experiment={list.find((e) => e.id === current)} experimentId={current} />
    </div>
  );
}

function ExperimentRuns({ experiment, experimentId }: { experiment: Experiment | undefined; experimentId: number }) {
  const [filter, setFilter] = useQueryParam("filter");
  const [sort, setSort] = useQueryParam("sort");
  const [cols, setCols] = useQueryParam("cols");
  const [group, setGroup] = useQueryParam("group");
  const [sel, setSel] = useQueryParam("sel");
  const [liveParam, setLive] = useQueryParam("live", "1");
  const [viewParam, setView] = useQueryParam("lifecycle"); // "view" names a saved view
  const [openParam, setOpen] = useQueryParam("open");
  const [charts, setCharts] = useQueryParam("charts");
  const [reload, setReload] = useState(0);
  const live = liveParam === "1";
  const view: RunView = viewParam === "deleted" ? "deleted" : "active";
  const { runs, done, error, shown } = useRuns(experimentId, filter, sort, live, view, reload);
  const sample = useMemo(() => (runs.length > 2000 ? runs.slice(0, 2000) : runs), [runs]);
  const keys = useMemo(() => keysOf(sample), [sample]);
  const counts = useMemo(() => keyCounts(sample), [sample]);
  const columns = useMemo(() => (cols === "-" ? [] : cols ? splitList(cols) : defaultColumns(keys, counts)), [cols, keys, counts]);
  const open = useMemo(() => new Set(splitList(openParam)), [openParam]);
  const onToggle = useCallback(
    (id: string) => {
      const next = new Set(splitList(new URLSearchParams(window.location.search).get("open") ?? ""));
      if (next.has(id)) next.delete(id);
      else next.add(id);
      setOpen(joinList(Array.from(next)));
    },
    [setOpen],
  );
  const selected = useMemo(() => new Set(splitList(sel)), [sel]);
  const onSelect = useCallback(
    (ids: string[], on: boolean) => {
      const next = new Set(splitList(new URLSearchParams(window.location.search).get("sel") ?? ""));
      ids.forEach((id) => (on ? next.add(id) : next.delete(id)));
      setSel(joinList(Array.from(next)));
    },
    [setSel],
  );
  const running = runs.filter((r) => r.status === "RUNNING").length;
  const compare = () => navigate(compareHref(Array.from(selected)));
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (!isShortcut(e)) return;
      if (e.key === "c" && selected.size) compare();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  });
  return (
    <section className="main">
      <header className="page-head">
        <h1>{experiment?.name ?? `Experiment ${experimentId}`}</h1>
        <span className="muted" data-testid="run-count">
          {runs.length.toLocaleString("en-US")} runs{done ? "" : " (loading…)"}
          {running ? ` · ${running} running` : ""}
        </span>
        <a href={`/experiments/${experimentId}/traces`} onClick={(e) => { e.preventDefault(); navigate(`/experiments/${experimentId}/traces`); }}>traces</a>
      </header>
      <FilterBar value={filter} onSubmit={(f) => setFilter(f, true)} keys={keys} error={error} experimentId={experimentId} />
      <div className="toolbar" data-testid="runs-toolbar">
        <SavedViews experimentId={experimentId} />
        <ColumnChooser keys={keys} columns={columns} onChange={(c) => setCols(c.length ? joinList(c) : "-")} />
        <label>
          Group by{" "}
          <select value={group} onChange={(e) => setGroup(e.target.value)} data-testid="group-by">
            <option value="">(none)</option>
            <optgroup label="params">
              {keys.params.map((k) => <option key={k} value={`p:${k}`}>{k}</option>)}
            </optgroup>
            <optgroup label="tags">
              {keys.tags.filter((k) => !k.startsWith("my.")).map((k) => <option key={k} value={`t:${k}`}>{k}</option>)}
            </optgroup>
            <option value="status">status</option>
            <option value="user">user</option>
          </select>
        </label>
        <label title="poll for new and running runs">
          <input type="checkbox" checked={live} disabled={view === "deleted"} onChange={(e) => setLive(e.target.checked ? "1" : "0")} /> live
        </label>
        <label title="show the deleted runs, to restore them">
          <input
            type="checkbox"
            checked={view === "deleted"}
            onChange={(e) => { setSel(""); setView(e.target.checked ? "deleted" : "", true); }}
            data-testid="show-deleted"
          />{" "}
          deleted runs
        </label>
        <button className="runs-toolbar-toggle" aria-pressed={charts === "1"} onClick={() => setCharts(charts === "1" ? "" : "1")} data-testid="charts-toggle">Charts</button>
        <button className="primary" disabled={selected.size < 1} onClick={compare} data-testid="compare-button">
          Compare {selected.size || ""}
        </button>
        {selected.size > 0 && <button onClick={() => setSel("")}>Clear selection</button>}
        <RunActions
          experimentName={experiment?.name ?? `experiment-${experimentId}`}
          view={view}
          selected={Array.from(selected)}
          search={{ experiment_ids: [experimentId], filter: shown.filter || undefined, order_by: orderBy(shown.sort), view }}
          ids={[...ATTRIBUTE_IDS, ...columns]}
          onChanged={(changed) => { onSelect(changed, false); setReload((r) => r + 1); }}
        />
        <a className="help" href={href("/help")} onClick={(e) => { e.preventDefault(); navigate("/help"); }}>keys: j k x ↵ c /</a>
      </div>
      {view === "deleted" && <p className="muted deleted-note" data-testid="deleted-note">Deleted runs: select and restore them. The server removes them for good when an admin runs gc.</p>}
      {charts === "1" && <RunsChartPanel runs={runs} selected={selected} params={keys.params} metrics={keys.metrics} />}
      <RunsTable
        runs={runs}
        columns={columns}
        sort={sort}
        onSort={(s) => setSort(s, true)}
        group={group}
        selected={selected}
        onSelect={onSelect}
        open={open}
        onToggle={onToggle}
      />
      {done && !error && runs.length === 0 && <p className="muted">{view === "deleted" ? "No deleted runs match." : "No runs match."}</p>}
    </section>
  );
}
