/** The model registry: models, versions with lineage, aliases and stage history, reviews, compare. */
import { useState } from "react";
import { api, type HistoryEntry, type ModelVersion, type Promotion } from "../lib/api";
import { ago, num, time } from "../lib/format";
import { href, useQueryParam } from "../lib/route";
import { useAsync } from "../lib/useAsync";
import { Link } from "../components/Link";
import { EditableMarkdown, Markdown } from "../components/Markdown";
import { ExperimentLoggedModels } from "../components/LoggedModels";
import { LoadError } from "../components/NotFound";
import { ModelManage, VersionManage } from "../components/RegistryManage";
import { experiments } from "../lib/registry";

const q = encodeURIComponent;

export function ModelsPage() {
  const [tab, setTab] = useQueryParam("tab", "registered");
  return (
    <section className="main">
      <h1>Models</h1>
      <nav className="tabs" role="tablist">
        {[["registered", "Registered models"], ["logged", "Logged models"]].map(([t, label]) => (
          <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? "active" : ""} onClick={() => setTab(t, true)}>{label}</button>
        ))}
      </nav>
      {tab === "logged" ? <LoggedTab /> : <RegisteredModels />}
    </section>
  );
}

/** MLflow 3 logged models of one experiment (the one picked, else the busiest). */
function LoggedTab() {
  const list = useAsync((signal) => experiments.list("active", signal), []);
  const [exp, setExp] = useQueryParam("exp");
  const all = list.data ?? [];
  const picked = all.find((e) => String(e.id) === exp) ?? [...all].sort((a, b) => (b.last_run_at ?? 0) - (a.last_run_at ?? 0))[0];
  return (
    <div>
      <div className="toolbar">
        <label>experiment{" "}
          <select value={picked?.id ?? ""} onChange={(e) => setExp(e.target.value)} aria-label="experiment" data-testid="logged-experiment">
            {all.map((e) => <option key={e.id} value={e.id}>{e.name}</option>)}
          </select>
        </label>
      </div>
      {list.error && <p className="error" role="alert">{list.error.message}</p>}
      {picked && <ExperimentLoggedModels key={picked.id} experimentId={picked.id} />}
    </div>
  );
}

function RegisteredModels() {
  const list = useAsync(() => api.models(), []);
  return (
    <>
      {list.error && <p className="error">{list.error.message}</p>}
      <table className="list" data-testid="models">
        <thead><tr><th>name</th><th>aliases</th><th>latest</th><th>updated</th></tr></thead>
        <tbody>
          {(list.data?.models ?? []).map((m) => {
            const latest = Math.max(0, ...Object.values(m.latest).map((v) => v.version));
            return (
              <tr key={m.name}>
                <td><Link to={`/models/${q(m.name)}`}>{m.name}</Link></td>
                <td>{Object.entries(m.aliases).map(([a, v]) => <span key={a} className="badge">{a} → v{v}</span>)}</td>
                <td>v{latest}</td>
                <td>{ago(m.updated_at)}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {list.data?.models.length === 0 && <p className="muted">No registered models yet: <code>my.models.log(model, "name")</code>, or "Register model" on a run's model folder.</p>}
    </>
  );
}

const TABS = ["versions", "timeline", "reviews", "compare", "card"] as const;

export function ModelPage({ name }: { name: string }) {
  const model = useAsync(() => api.model(name), [name]);
  const versions = useAsync(() => api.modelVersions(name), [name]);
  const [tab, setTab] = useQueryParam("tab", "versions");
  if (model.error) return <LoadError error={model.error} what={`model ${name}`} back="/models" backLabel="all models" />;
  if (!model.data) return <p className="muted">Loading…</p>;
  const all = versions.data?.versions ?? [];
  const changed = () => {
    model.reload();
    versions.reload();
  };
  return (
    <section className="main">
      <header className="page-head">
        <h1>{name}</h1>
        {Object.entries(model.data.aliases).map(([a, v]) => (
          <Link key={a} className="badge" to={`/models/${q(name)}/versions/${v}`}>{a} → v{v}</Link>
        ))}
        <Link to={href("/deployments", { model: name })}>deployments</Link>
      </header>
      {model.data.description && <p data-testid="model-description">{model.data.description}</p>}
      <ModelManage model={model.data} versions={all} onChange={changed} />
      <nav className="tabs" role="tablist">
        {TABS.map((t) => <button key={t} role="tab" aria-selected={tab === t} className={tab === t ? "active" : ""} onClick={() => setTab(t, true)}>{t}</button>)}
      </nav>
      {tab === "versions" && <Versions name={name} versions={all} />}
      {tab === "timeline" && <Timeline name={name} />}
      {tab === "reviews" && <Reviews name={name} />}
      {tab === "compare" && <CompareVersions name={name} versions={all} />}
      {tab === "card" && (
        <EditableMarkdown text={model.data.card} placeholder="No model card yet." testId="card" onSave={async (card) => {
          await api.setCard(name, card);
          model.reload();
        }} />
      )}
    </section>
  );
}

function Versions({ name, versions }: { name: string; versions: ModelVersion[] }) {
  return (
    <table className="list" data-testid="versions">
      <thead><tr><th>version</th><th>aliases</th><th>stage</th><th>flavor</th><th>run</th><th>by</th><th>created</th></tr></thead>
      <tbody>
        {versions.map((v) => (
          <tr key={v.version}>
            <td><Link to={`/models/${q(name)}/versions/${v.version}`}>v{v.version}</Link></td>
            <td>{v.aliases.map((a) => <span key={a} className="badge">{a}</span>)}</td>
            <td>{v.stage === "None" ? "" : v.stage}</td>
            <td>{v.package?.flavor ?? ""}{v.needs_trust ? (v.trusted ? " (trusted)" : " (needs trust)") : ""}</td>
            <td>{v.run_id ? <Link to={`/runs/${v.run_id}`}>{v.run_name || v.run_id.slice(0, 8)}</Link> : ""}</td>
            <td>{v.user}</td>
            <td>{time(v.created_at)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function describe(e: HistoryEntry): string {
  const d = e.detail as Record<string, string | number | null>;
  switch (e.action) {
    case "alias_set": return `alias ${d.alias} → v${e.version}${d.previous ? ` (was v${d.previous})` : ""}`;
    case "alias_deleted": return `alias ${d.alias} removed`;
    case "stage_changed": return `v${e.version}: ${d.old ?? "None"} → ${d.new}`;
    case "version_created": return `v${e.version} registered`;
    case "description_changed": return `${e.version ? `v${e.version} ` : ""}description changed`;
    case "tag_set": return `${e.version ? `v${e.version} ` : ""}tag ${d.key}=${d.value}`;
    case "tag_deleted": return `${e.version ? `v${e.version} ` : ""}tag ${d.key} removed`;
    default: return `${e.action.replace(/_/g, " ")}${e.version ? ` v${e.version}` : ""}`;
  }
}

function Timeline({ name }: { name: string }) {
  const history = useAsync(() => api.modelHistory(name), [name]);
  const [onlyMoves, setOnlyMoves] = useQueryParam("moves", "0");
  const entries = (history.data ?? []).filter((e) => onlyMoves !== "1" || /alias|stage/.test(e.action)).slice().reverse();
  return (
    <div>
      <label className="toolbar"><input type="checkbox" checked={onlyMoves === "1"} onChange={(e) => setOnlyMoves(e.target.checked ? "1" : "0")} /> only alias and stage changes</label>
      <ol className="timeline" data-testid="timeline">
        {entries.map((e, i) => (
          <li key={i} className={"event " + e.action}>
            <time dateTime={new Date(e.at).toISOString()}>{time(e.at)}</time>
            <div><b>{describe(e)}</b> <span className="muted">by {e.user}</span></div>
            {typeof e.detail.reason === "string" && e.detail.reason && <div className="reason">“{e.detail.reason}”</div>}
          </li>
        ))}
      </ol>
    </div>
  );
}

function Reviews({ name }: { name: string }) {
  const list = useAsync(() => api.promotions(name), [name]);
  return (
    <div data-testid="reviews">
      {(list.data ?? []).length === 0 && <p className="muted">No proposals yet: <code>modelyard models propose {name} VERSION Production</code>.</p>}
      {(list.data ?? []).slice().reverse().map((p) => <PromotionCard key={p.id} p={p} onChange={list.reload} />)}
    </div>
  );
}

function PromotionCard({ p, onChange }: { p: Promotion; onChange: () => void }) {
  const check = useAsync(() => (p.status === "open" ? api.checkPromotion(p.id) : Promise.resolve(p.gates as never)), [p.id, p.status]);
  const [text, setText] = useState("");
  const [error, setError] = useState("");
  const act = async (fn: () => Promise<unknown>) => {
    try { await fn(); setText(""); setError(""); onChange(); } catch (e) { setError((e as Error).message); }
  };
  const gates = check.data ?? [];
  return (
    <article className={"promotion " + p.status} data-testid={"promotion-" + p.id}>
      <header>
        <b>#{p.id}: v{p.version} → {p.stage ?? ""}{p.alias ? ` (alias ${p.alias})` : ""}</b>{" "}
        <span className={"badge " + p.status}>{p.status}</span>{" "}
        <span className="muted">proposed by {p.proposed_by}, {ago(p.created_at)}</span>
      </header>
      {p.reason && <Markdown text={p.reason} />}
      {gates.length > 0 && (
        <ul className="gates">
          {gates.map((g) => (
            <li key={g.rule} className={g.passed ? "pass" : "fail"}>
              {g.passed ? "✔" : "✘"} <code>{g.rule}</code> <span className="muted">{num(g.left)} vs {num(g.right)}{g.note ? ` — ${g.note}` : ""}</span>
            </li>
          ))}
        </ul>
      )}
      <ul className="comments">
        {p.reviews.map((r, i) => <li key={i}><b>{r.user}</b> {r.verdict !== "comment" && <span className={"badge " + r.verdict}>{r.verdict}</span>} {r.text} <span className="muted">{ago(r.at)}</span></li>)}
      </ul>
      {p.status === "open" && (
        <div className="row">
          <input value={text} onChange={(e) => setText(e.target.value)} placeholder="comment or reason" aria-label="comment" />
          <button onClick={() => void act(() => api.comment(p.id, text))} disabled={!text.trim()}>Comment</button>
          <button className="primary" onClick={() => void act(() => api.decide(p.id, "approve", text))}>Approve</button>
          <button onClick={() => void act(() => api.decide(p.id, "reject", text))}>Reject</button>
        </div>
      )}
      {error && <p className="error" role="alert">{error}</p>}
    </article>
  );
}

function CompareVersions({ name, versions }: { name: string; versions: ModelVersion[] }) {
  const [a, setA] = useQueryParam("a", String(versions[1]?.version ?? versions[0]?.version ?? ""));
  const [b, setB] = useQueryParam("b", String(versions[0]?.version ?? ""));
  const diff = useAsync(() => (a && b ? api.compareVersions(name, Number(a), Number(b)) : Promise.resolve(undefined)), [name, a, b]);
  const pick = (value: string, set: (v: string) => void, label: string) => (
    <select value={value} onChange={(e) => set(e.target.value)} aria-label={label}>
      {versions.map((v) => <option key={v.version} value={v.version}>v{v.version}</option>)}
    </select>
  );
  const d = diff.data;
  const sections: [string, Record<string, [unknown, unknown]>][] = d ? [["params", d.params], ["metrics", d.metrics], ["dependencies", d.dependencies]] : [];
  return (
    <div>
      <div className="toolbar">{pick(a, setA, "version a")} vs {pick(b, setB, "version b")}</div>
      {diff.error && <p className="error">{diff.error.message}</p>}
      {d && (
        <table className="diff" data-testid="version-diff">
          <thead><tr><th></th><th>v{d.a}</th><th>v{d.b}</th></tr></thead>
          <tbody>
            {d.flavor[0] !== d.flavor[1] && <tr><th>flavor</th><td>{d.flavor[0]}</td><td>{d.flavor[1]}</td></tr>}
            {sections.flatMap(([title, rows]) =>
              Object.entries(rows).map(([k, [x, y]]) => (
                <tr key={title + k} className="differs"><th><span className="kind">{title[0]}</span> {k}</th><td>{typeof x === "number" ? num(x) : String(x ?? "—")}</td><td>{typeof y === "number" ? num(y) : String(y ?? "—")}</td></tr>
              )),
            )}
          </tbody>
        </table>
      )}
      {d && sections.every(([, rows]) => Object.keys(rows).length === 0) && <p className="muted">No differences in params, metrics or dependencies.</p>}
    </div>
  );
}

export function ModelVersionPage({ name, version }: { name: string; version: number }) {
  const lineage = useAsync(() => api.lineage(name, version), [name, version]);
  const versions = useAsync(() => api.modelVersions(name), [name]);
  const v = versions.data?.versions.find((x) => x.version === version);
  if (lineage.error) return <LoadError error={lineage.error} what={`version ${version} of model ${name}`} back={`/models/${q(name)}`} backLabel={`all versions of ${name}`} />;
  const l = lineage.data;
  return (
    <section className="main">
      <header className="page-head">
        <h1><Link to={`/models/${q(name)}`}>{name}</Link> v{version}</h1>
        {v?.aliases.map((a) => <span key={a} className="badge">{a}</span>)}
        {v && v.stage !== "None" && <span className="badge" data-testid="stage-badge">{v.stage}</span>}
      </header>
      {v?.description && <p data-testid="version-description">{v.description}</p>}
      {v && <VersionManage version={v} versions={versions.data?.versions ?? []} onChange={versions.reload} />}

      <div className="grid-2">
        <div data-testid="lineage">
          <h2>Lineage</h2>
          {l?.run ? (
            <dl className="facts">
              <dt>run</dt><dd><Link to={`/runs/${l.run.id}`}>{l.run.name || l.run.id}</Link> ({l.run.status.toLowerCase()})</dd>
              {l.run.git_commit && (<><dt>commit</dt><dd><code>{l.run.git_commit.slice(0, 12)}</code> {l.run.git_branch}</dd></>)}
              {l.datasets.map((d) => (
                <FactPair key={d.direction + d.name} k={d.direction === "input" ? "trained on" : "wrote"}>
                  <Link to={href(`/datasets/${q(d.name)}`, { v: d.version })}>{d.name} v{d.version}</Link>
                </FactPair>
              ))}
            </dl>
          ) : <p className="muted">{l ? "Not linked to a run." : "Loading…"}</p>}
          {l?.run && (
            <>
              <h3>Params</h3>
              <table className="kv"><tbody>{Object.entries(l.run.params).map(([k, val]) => <tr key={k}><td>{k}</td><td>{val}</td></tr>)}</tbody></table>
              <h3>Metrics</h3>
              <table className="kv"><tbody>{Object.entries(l.run.metrics).map(([k, val]) => <tr key={k}><td>{k}</td><td>{num(val)}</td></tr>)}</tbody></table>
            </>
          )}
        </div>
        <div>
          <h2>Package</h2>
          {v?.package ? (
            <dl className="facts" data-testid="package">
              <dt>flavor</dt><dd>{v.package.flavor}</dd>
              <dt>loads safely</dt><dd>{!v.needs_trust ? "yes (no code runs on load)" : v.trusted ? "trusted by a person" : "no: needs `modelyard models trust`"}</dd>
              <dt>digest</dt><dd><code>{v.package_digest?.slice(0, 16)}…</code></dd>
              {v.package.python_version && (<><dt>python</dt><dd>{v.package.python_version}</dd></>)}
              {Object.entries(v.package.dependencies ?? {}).map(([dep, ver]) => <FactPair key={dep} k={dep}>{ver}</FactPair>)}
            </dl>
          ) : <p className="muted">{v ? "Registered without a modelyard package." : "Loading…"}</p>}
          <h2>Load it</h2>
          <pre>{`import modelyard as my\nmodel = my.models.load("models:/${name}/${version}")`}</pre>
        </div>
      </div>
    </section>
  );
}

function FactPair({ k, children }: { k: string; children: React.ReactNode }) {
  return (<><dt>{k}</dt><dd>{children}</dd></>);
}
