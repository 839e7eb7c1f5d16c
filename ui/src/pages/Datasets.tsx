/** Datasets: every name, its versions, and each version's schema, profile and the runs that used it. */
import { api, ApiError, type ColumnProfile } from "../lib/api";
import { bytes, num, time } from "../lib/format";
import { href, useQueryParam } from "../lib/route";
import { useAsync } from "../lib/useAsync";
import { Link } from "../components/Link";
import { LoadError } from "../components/NotFound";
import { datasetColumns, describeSource, experiments } from "../lib/registry";

export function DatasetsPage() {
  const list = useAsync(() => api.datasets(), []);
  return (
    <section className="main">
      <h1>Datasets</h1>
      {list.error && <p className="error">{list.error.message}</p>}
      <table className="list" data-testid="datasets">
        <thead><tr><th>name</th><th>versions</th><th>registered by</th><th>created</th></tr></thead>
        <tbody>
          {(list.data ?? []).map((d) => (
            <tr key={d.name}>
              <td><Link to={`/datasets/${encodeURIComponent(d.name)}`}>{d.name}</Link></td>
              <td>{d.versions}</td><td>{d.user}</td><td>{time(d.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.data?.length === 0 && <p className="muted">No datasets yet: <code>my.datasets.register("name", df)</code>.</p>}
    </section>
  );
}

export function DatasetPage({ name }: { name: string }) {
  const versions = useAsync(() => api.datasetVersions(name), [name]);
  const uses = useAsync(() => api.datasetRuns(name), [name]);
  const [v, setV] = useQueryParam("v");
  const used = (uses.data ?? []).filter((u) => String(u.version) === (v || String(versions.data?.[versions.data.length - 1]?.version)));
  const runIds = [...new Set(used.map((u) => u.run_id))].sort();
  // the runs' names (one search by id; runs the caller may not read are left as ids)
  const runs = useAsync(
    (signal) => (runIds.length ? api.searchRuns({ filter: `attributes.run_id IN (${runIds.map((r) => `'${r}'`).join(", ")})`, max_results: 1000 }, signal) : Promise.resolve({ runs: [], next_page_token: null })),
    [runIds.join(",")],
  );
  const exps = useAsync((signal) => (runIds.length ? experiments.list("all", signal) : Promise.resolve([])), [runIds.length > 0]);
  if (versions.error) return <LoadError error={versions.error} what={`dataset ${name}`} back="/datasets" backLabel="all datasets" />;
  const all = versions.data ?? [];
  const current = all.find((x) => String(x.version) === v) ?? all[all.length - 1];
  if (!current) return versions.data ? <LoadError error={new ApiError(404, "RESOURCE_DOES_NOT_EXIST", "no versions")} what={`dataset ${name}`} back="/datasets" backLabel="all datasets" /> : <p className="muted">Loading…</p>;
  const named = new Map((runs.data?.runs ?? []).map((r) => [r.id, r]));
  const expName = new Map((exps.data ?? []).map((e) => [e.id, e.name]));
  const sourceType = current.tags["reference.source_type"] ?? "";
  return (
    <section className="main">
      <header className="page-head">
        <h1>{name}</h1>
        <select value={current.version} onChange={(e) => setV(e.target.value, true)} data-testid="dataset-version">
          {all.map((x) => <option key={x.version} value={x.version}>v{x.version}{x.deleted_at ? " (deleted)" : ""}</option>)}
        </select>
      </header>
      <dl className="facts">
        <dt>digest</dt><dd><code>{current.digest.slice(0, 16)}…</code></dd>
        <dt>rows</dt><dd>{(current.num_rows ?? mlflowRows(current.profile))?.toLocaleString("en-US") ?? "?"}</dd>
        <dt>files</dt><dd>{current.num_files} ({bytes(current.size_bytes)})</dd>
        <dt>source</dt><dd data-testid="dataset-source">{sourceType ? <>{describeSource(current.source, sourceType)} <span className="muted small">(MLflow {sourceType} source)</span></> : current.source}</dd>
        <dt>registered</dt><dd>{time(current.created_at)} by {current.user}</dd>
        {current.deleted_at && (<><dt>deleted</dt><dd>{time(current.deleted_at)} (files released; lineage kept)</dd></>)}
      </dl>
      {used.length > 0 && (
        <>
          <h2>Used by</h2>
          <table className="list" data-testid="dataset-runs">
            <thead><tr><th>run</th><th>experiment</th><th>status</th><th>use</th><th>started</th></tr></thead>
            <tbody>
              {used.map((u) => {
                const r = named.get(u.run_id);
                return (
                  <tr key={u.run_id + u.direction + u.context}>
                    <td><Link to={`/runs/${u.run_id}`}>{r?.name || u.run_id.slice(0, 12)}</Link></td>
                    <td>{r ? <Link to={`/experiments/${r.experiment_id}`}>{expName.get(r.experiment_id) ?? r.experiment_id}</Link> : ""}</td>
                    <td>{r?.status.toLowerCase() ?? ""}</td>
                    <td>{u.direction === "input" ? "read it" : "wrote it"}{u.context ? ` (${u.context})` : ""}</td>
                    <td>{r ? time(r.start_time) : ""}</td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </>
      )}
      <h2>Profile</h2>
      <div className="profiles" data-testid="profile">
        {datasetColumns(current.schema).map((col) => (
          <ProfileCard key={col.name} name={col.name} type={col.type} profile={profileOf(current.profile, col.name)} rows={current.num_rows} />
        ))}
      </div>
      <p className="muted small"><Link to={href("/datasets")}>all datasets</Link></p>
    </section>
  );
}

/** MLflow's profile (`{"num_rows", "num_elements"}`) counts rows; modelyard's profiles columns. */
function mlflowRows(profile: Record<string, unknown>): number | null {
  return typeof profile.num_rows === "number" ? profile.num_rows : null;
}

function profileOf(profile: Record<string, ColumnProfile>, name: string): ColumnProfile | undefined {
  const found = profile[name];
  return found && typeof found === "object" ? found : undefined;
}

function ProfileCard({ name, type, profile, rows }: { name: string; type: string; profile: ColumnProfile | undefined; rows: number | null }) {
  return (
    <div className="profile-card" data-testid={"profile-" + name}>
      <div className="profile-head"><b>{name}</b> <span className="muted">{type}</span></div>
      {profile ? (
        <>
          {profile.histogram && <Histogram counts={profile.histogram.counts} edges={profile.histogram.edges} />}
          {profile.top && <TopValues top={profile.top} total={profile.count} />}
          <dl className="stats">
            <dt>missing</dt><dd>{profile.missing} {rows ? `(${num((100 * profile.missing) / rows, 3)}%)` : ""}</dd>
            {profile.mean !== undefined && (<><dt>mean</dt><dd>{num(profile.mean)}</dd><dt>std</dt><dd>{num(profile.std)}</dd></>)}
            {profile.min !== undefined && (<><dt>min</dt><dd>{num(profile.min)}</dd><dt>max</dt><dd>{num(profile.max)}</dd></>)}
            {profile.quantiles?.["0.5"] !== undefined && (<><dt>median</dt><dd>{num(profile.quantiles["0.5"])}</dd></>)}
            {profile.distinct !== undefined && (<><dt>distinct</dt><dd>{profile.distinct}</dd></>)}
          </dl>
        </>
      ) : <p className="muted">Not profiled.</p>}
    </div>
  );
}

export function Histogram({ counts, edges }: { counts: number[]; edges: number[] }) {
  const max = Math.max(1, ...counts);
  const W = 220;
  const H = 60;
  const w = W / counts.length;
  return (
    <svg width={W} height={H} className="histogram" role="img" aria-label="histogram">
      {counts.map((c, i) => (
        <rect key={i} x={i * w + 0.5} width={Math.max(1, w - 1)} y={H - (H * c) / max} height={(H * c) / max}>
          <title>{`${num(edges[i])} – ${num(edges[i + 1])}: ${c}`}</title>
        </rect>
      ))}
    </svg>
  );
}

function TopValues({ top, total }: { top: ColumnProfile["top"]; total: number }) {
  const entries: [string, number][] = Array.isArray(top) ? top.map((t) => [t.value, t.count]) : Object.entries(top ?? {});
  return (
    <table className="top-values">
      <tbody>
        {entries.slice(0, 5).map(([value, count]) => (
          <tr key={value}><td>{value}</td><td><span className="bar" style={{ width: `${(100 * count) / Math.max(1, total)}%` }} /></td><td>{count}</td></tr>
        ))}
      </tbody>
    </table>
  );
}
