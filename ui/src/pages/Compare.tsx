/** Compare runs: overlaid metric charts, parallel coordinates, a scatter of any two params or
 * metrics, images side by side, and a table of what differs. */
import { useMemo } from "react";
import { api, type Run } from "../lib/api";
import { keysOf, runIdsIn } from "../lib/complete";
import { num, toNumber } from "../lib/format";
import { joinList, splitList, useQueryParam } from "../lib/route";
import { useAsync } from "../lib/useAsync";
import { MetricChart, ChartControls } from "../components/MetricCharts";
import { ImageGrid } from "../components/ImageGrid";
import { ParallelView, ScatterView } from "../components/PlotViews";
import { Link } from "../components/Link";
import { DirectionToggle } from "../components/DirectionToggle";
import { bestAndWorst, directionOf, parseDirections } from "../lib/direction";

const TABS = ["charts", "parallel", "scatter", "images", "diff"] as const;

async function loadRuns(ids: string[]): Promise<Run[]> {
  const out: Run[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const page = await api.searchRuns({ filter: runIdsIn(ids.slice(i, i + 500)), max_results: 1000 });
    out.push(...page.runs);
  }
  const order = new Map(ids.map((id, i) => [id, i]));
  return out.sort((a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0));
}

export function ComparePage() {
  const [runsParam] = useQueryParam("runs");
  const ids = useMemo(() => splitList(runsParam), [runsParam]);
  const [tab, setTab] = useQueryParam("tab", "charts");
  const loaded = useAsync(() => loadRuns(ids), [runsParam]);
  const runs = loaded.data ?? [];
  const keys = useMemo(() => keysOf(runs), [runs]);
  if (!ids.length) return <section className="main"><h1>Compare runs</h1><p className="muted">Select runs in an experiment's table, then press Compare.</p></section>;
  if (loaded.error) return <p className="error">{loaded.error.message}</p>;
  return (
    <section className="main">
      <header className="page-head">
        <h1>Compare {ids.length} runs</h1>
        {runs.length > 0 && <Link to={`/experiments/${runs[0].experiment_id}?sel=${joinList(ids)}`}>back to the table</Link>}
      </header>
      <nav className="tabs" role="tablist">
        {TABS.map((t) => (
          <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? "active" : ""} onClick={() => setTab(t, true)}>{t}</button>
        ))}
      </nav>
      {loaded.loading && !runs.length && <p className="muted">Loading…</p>}
      {runs.length > 0 && tab === "charts" && <Charts runs={runs} metrics={keys.metrics} />}
      {runs.length > 0 && tab === "parallel" && <ParallelView runs={runs} params={keys.params} metrics={keys.metrics} />}
      {runs.length > 0 && tab === "scatter" && <ScatterView runs={runs} params={keys.params} metrics={keys.metrics} />}
      {runs.length > 0 && tab === "images" && <ImageGrid runs={runs} />}
      {runs.length > 0 && tab === "diff" && <Diff runs={runs} params={keys.params} metrics={keys.metrics} />}
    </section>
  );
}

function Charts({ runs, metrics }: { runs: Run[]; metrics: string[] }) {
  const [chosen, setChosen] = useQueryParam("metrics");
  const plain = metrics.filter((m) => !m.startsWith("system/"));
  const shown = chosen ? splitList(chosen).filter((m) => metrics.includes(m)) : plain.slice(0, 6);
  const toggle = (m: string) => setChosen(joinList(shown.includes(m) ? shown.filter((x) => x !== m) : [...shown, m]));
  return (
    <div>
      <ChartControls metrics={plain} />
      <div className="chips" data-testid="metric-chips">
        {metrics.map((m) => (
          <button key={m} className={"chip " + (shown.includes(m) ? "on" : "")} aria-pressed={shown.includes(m)} onClick={() => toggle(m)}>{m}</button>
        ))}
      </div>
      <div className="charts">
        {shown.map((m) => <MetricChart key={m} metric={m} runs={runs} />)}
      </div>
    </div>
  );
}

function Diff({ runs, params, metrics }: { runs: Run[]; params: string[]; metrics: string[] }) {
  const [onlyDiff, setOnlyDiff] = useQueryParam("diff", "1");
  const [dirParam] = useQueryParam("dir");
  const overrides = parseDirections(dirParam);
  const rows = [
    ...params.map((p) => ({ kind: "param", key: p, values: runs.map((r) => r.params[p] ?? null) as (string | number | null)[] })),
    ...metrics.map((m) => ({ kind: "metric", key: m, values: runs.map((r) => (r.metrics[m] ? toNumber(r.metrics[m].last) : null)) as (string | number | null)[] })),
  ];
  const differs = (vals: (string | number | null)[]) => new Set(vals.map((v) => String(v))).size > 1;
  const shown = onlyDiff === "1" ? rows.filter((r) => differs(r.values)) : rows;
  return (
    <div>
      <label className="toolbar"><input type="checkbox" checked={onlyDiff === "1"} onChange={(e) => setOnlyDiff(e.target.checked ? "1" : "0")} /> only what differs</label>
      <div className="scroll-x">
        <table className="diff" data-testid="diff-table">
          <thead>
            <tr><th></th>{runs.map((r) => <th key={r.id}><Link to={`/runs/${r.id}`}>{r.name || r.id.slice(0, 8)}</Link></th>)}</tr>
          </thead>
          <tbody>
            {shown.map((row) => {
              const nums = row.values.map((v) => (typeof v === "number" ? v : null));
              const marks = row.kind === "metric" ? bestAndWorst(nums, directionOf(row.key, overrides)) : null;
              return (
                <tr key={row.kind + row.key} className={differs(row.values) ? "differs" : ""} data-testid={`diff-${row.kind}-${row.key}`}>
                  <th>
                    <span className="kind">{row.kind[0]}</span> {row.key}
                    {row.kind === "metric" && <> <DirectionToggle metric={row.key} /></>}
                  </th>
                  {row.values.map((v, i) => (
                    <td key={i} className={marks && v === marks.best ? "best" : marks && v === marks.worst ? "worst" : ""}>
                      {v === null ? <span className="muted">—</span> : typeof v === "number" ? num(v) : v}
                    </td>
                  ))}
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {shown.length === 0 && <p className="muted">These runs have the same params and metrics.</p>}
    </div>
  );
}
