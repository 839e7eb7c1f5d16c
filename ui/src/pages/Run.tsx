/** One run: overview, params, metric charts, system metrics, notes and artifacts. */
import { useEffect, useMemo } from "react";
import { api, ApiError, type Artifact, type Run } from "../lib/api";
import { duration, num, time, toNumber } from "../lib/format";
import { href, navigate, useQueryParam } from "../lib/route";
import { useAsync } from "../lib/useAsync";
import { EditableMarkdown } from "../components/Markdown";
import { MetricCharts } from "../components/MetricCharts";
import { Preview } from "../components/Previews";
import { Link } from "../components/Link";
import { useAction } from "../components/Action";
import { ChildRuns, ParentLink } from "../components/ChildRuns";
import { DeleteRun, DeletedBanner, FailureBox, Outcome, RunTitle } from "../components/RunManage";
import { RunTags } from "../components/RunTags";
import { ERROR_TAG, userTag } from "../lib/runEdits";
import "./run.css";
import { bytes } from "../lib/format";
import { RunTraces } from "./Traces";
import { LoggedModels } from "../components/LoggedModels";
import { RegisterModelHere } from "../components/RegisterModel";

const TABS = ["overview", "charts", "system", "artifacts", "traces"] as const;

export function RunPage({ runId }: { runId: string }) {
  const run = useAsync(() => api.run(runId), [runId]);
  const [tab, setTab] = useQueryParam("tab", "overview");
  const running = run.data?.status === "RUNNING";
  const reload = run.reload;
  const action = useAction(reload);
  useEffect(() => {
    if (!running) return;
    const timer = setInterval(reload, 3000); // live: status, metrics and charts follow the run
    return () => clearInterval(timer);
  }, [running, reload]);
  if (run.error && !run.data) return <RunMissing runId={runId} error={run.error} retry={reload} />;
  if (!run.data) return <p className="muted">Loading…</p>;
  const r = run.data;
  return (
    <section className="main run-page">
      <header className="page-head run-head">
        <RunTitle run={r} action={action} />
        <span className={"status " + r.status.toLowerCase()}>{r.status.toLowerCase()}</span>
        <Link to={`/experiments/${r.experiment_id}`}>experiment {r.experiment_id}</Link>
        <Link to={href("/compare", { runs: r.id })}>compare…</Link>
        <span className="spacer" />
        <DeleteRun run={r} action={action} />
      </header>
      <Outcome action={action} testId="run-action" />
      <DeletedBanner run={r} action={action} />
      <FailureBox run={r} />
      <nav className="tabs" role="tablist">
        {TABS.map((t) => (
          <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? "active" : ""} onClick={() => setTab(t, true)}>
            {t}
          </button>
        ))}
      </nav>
      {tab === "overview" && <Overview run={r} onChange={run.reload} />}
      {tab === "overview" && <LoggedModels runId={r.id} />}
      {tab === "charts" && <MetricCharts runs={[r]} keys={Object.keys(r.metrics).filter((k) => !k.startsWith("system/"))} />}
      {tab === "system" && <MetricCharts runs={[r]} keys={Object.keys(r.metrics).filter((k) => k.startsWith("system/"))} empty="No system metrics were logged for this run." />}
      {tab === "artifacts" && <Artifacts runId={r.id} />}
      {tab === "traces" && <RunTraces runId={r.id} />}
    </section>
  );
}

/** A run that cannot be shown: not found (with a way back), not readable, or a failed read. */
function RunMissing({ runId, error, retry }: { runId: string; error: Error; retry: () => void }) {
  const missing = error instanceof ApiError && (error.status === 404 || error.status === 400);
  return (
    <section className="main not-found" data-testid={missing ? "run-not-found" : "run-unreadable"}>
      <h1>{missing ? "Run not found" : "This run cannot be shown"}</h1>
      {missing ? (
        <p>There is no run <code className="run-id">{runId}</code>. The link may be mistyped, or the run was deleted for good by a garbage collection.</p>
      ) : (
        <p className="error" role="alert">{error.message}</p>
      )}
      <p className="row">
        <Link to="/experiments" className="button">Go to the experiments</Link>
        {window.history.length > 1 && <button onClick={() => window.history.back()}>Go back</button>}
        {!missing && <button onClick={retry}>Try again</button>}
      </p>
    </section>
  );
}

function Overview({ run, onChange }: { run: Run; onChange: () => void }) {
  const datasets = useAsync(() => api.runDatasets(run.id), [run.id]);
  const env = Object.entries(run.tags).filter(([k]) => !userTag(k) && k !== ERROR_TAG);
  const commit = run.tags["my.git.commit"] ?? run.tags["mlflow.source.git.commit"];
  return (
    <>
    <ChildRuns parent={run} />
    <div className="grid-2">
      <div>
        <h2>Overview</h2>
        <dl className="facts" data-testid="overview">
          <dt>id</dt><dd><code>{run.id}</code></dd>
          <dt>status</dt><dd>{run.status.toLowerCase()}</dd>
          <dt>started</dt><dd>{time(run.start_time)}</dd>
          <dt>duration</dt><dd>{duration((run.end_time ?? Date.now()) - run.start_time)}{run.end_time ? "" : " (running)"}</dd>
          <dt>who</dt><dd>{run.user}</dd>
          {commit && (<><dt>commit</dt><dd><code>{commit.slice(0, 12)}</code> {run.tags["my.git.branch"] ?? ""}{run.tags["my.git.dirty"] === "true" ? " (uncommitted changes)" : ""}</dd></>)}
          {run.parent_id && (<><dt>parent</dt><dd data-testid="parent-link"><ParentLink parentId={run.parent_id} /></dd></>)}
          {env.map(([k, v]) => (<FactRow key={k} k={k.replace(/^my\./, "")} v={v} />))}
        </dl>
        <h2>Notes</h2>
        <EditableMarkdown
          text={run.notes}
          placeholder="No notes yet."
          testId="notes"
          onSave={async (notes) => { await api.updateRun(run.id, { notes }); onChange(); }}
        />
        {datasets.data && datasets.data.length > 0 && (
          <>
            <h2>Datasets</h2>
            <ul>
              {datasets.data.map((d) => (
                <li key={d.direction + d.name + d.version}>
                  {d.direction === "input" ? "read" : "wrote"}{" "}
                  <Link to={href(`/datasets/${encodeURIComponent(d.name)}`, { v: d.version })}>{d.name} v{d.version}</Link>
                  {d.context && <span className="muted"> ({d.context})</span>}
                </li>
              ))}
            </ul>
          </>
        )}
      </div>
      <div>
        <h2>Params</h2>
        <KeyValues data-testid="params" entries={Object.entries(run.params)} />
        <h2>Metrics</h2>
        <table className="kv" data-testid="metrics">
          <thead><tr><th>key</th><th>last</th><th>min</th><th>max</th><th>step</th></tr></thead>
          <tbody>
            {Object.entries(run.metrics).map(([k, m]) => (
              <tr key={k}><td>{k}</td><td>{num(toNumber(m.last))}</td><td>{num(toNumber(m.min))}</td><td>{num(toNumber(m.max))}</td><td>{m.step}</td></tr>
            ))}
          </tbody>
        </table>
        <h2>Tags</h2>
        <RunTags run={run} onChange={onChange} />
      </div>
    </div>
    </>
  );
}

function FactRow({ k, v }: { k: string; v: string }) {
  return (<><dt>{k}</dt><dd>{v}</dd></>);
}

function KeyValues({ entries, ...rest }: { entries: [string, string][]; "data-testid"?: string }) {
  if (!entries.length) return <p className="muted">None.</p>;
  return (
    <table className="kv" {...rest}>
      <tbody>{entries.map(([k, v]) => <tr key={k}><td>{k}</td><td>{v}</td></tr>)}</tbody>
    </table>
  );
}

function Artifacts({ runId }: { runId: string }) {
  const [path] = useQueryParam("path");
  const folder = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) : "";
  const [dir, setDir] = useQueryParam("dir");
  const current = dir || folder;
  const listing = useAsync(() => api.artifacts(runId, current), [runId, current]);
  const selected = useMemo(() => listing.data?.find((a) => (current ? `${current}/${a.path}` : a.path) === path), [listing.data, path, current]);
  const parts = current ? current.split("/") : [];
  return (
    <div className="artifacts" data-testid="artifacts">
      <div className="tree">
        <div className="crumbs">
          <a href="#" onClick={(e) => { e.preventDefault(); setDir(""); }}>root</a>
          {parts.map((p, i) => (
            <span key={i}> / <a href="#" onClick={(e) => { e.preventDefault(); setDir(parts.slice(0, i + 1).join("/")); }}>{p}</a></span>
          ))}
        </div>
        {listing.error && <p className="error">{listing.error.message}</p>}
        <RegisterModelHere runId={runId} dir={current} entries={listing.data} />
        <ul>
          {(listing.data ?? []).map((a: Artifact) => {
            const full = current ? `${current}/${a.path}` : a.path; // listings name entries relative to the folder
            return (
              <li key={full} className={full === path ? "active" : ""}>
                <a
                  href="#"
                  data-testid={"artifact-" + full}
                  onClick={(e) => {
                    e.preventDefault();
                    if (a.is_dir) setDir(full, true);
                    else navigate(href(window.location.pathname, { tab: "artifacts", dir: current, path: full }), true);
                  }}
                >
                  <span className="muted">{a.is_dir ? "▸ " : "· "}</span>{a.path}{a.is_dir ? "/" : ""}
                </a>
                {!a.is_dir && <span className="muted"> {bytes(a.size)}</span>}
              </li>
            );
          })}
          {listing.data && listing.data.length === 0 && <li className="muted">No artifacts.</li>}
        </ul>
      </div>
      <div className="viewer">
        {!path ? (
          <p className="muted">Pick a file to preview it.</p>
        ) : selected && !selected.is_dir ? (
          <Preview runId={runId} path={path} size={selected.size} />
        ) : (
          <p className="muted">{listing.data ? `No file ${path} in this run.` : "Loading…"}</p>
        )}
      </div>
    </div>
  );
}
