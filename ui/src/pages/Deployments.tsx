/** Deployments: each one's traffic split, live figures per version, the rollout in progress, its history,
 * and promote / rollback (the REST API decides; a refusal is shown as the server words it). */
import { LoadError } from "../components/NotFound";
import { useRef, useState } from "react";
import { api, type Deployment, type DeploymentStatus, type VersionFigures } from "../lib/api";
import { time } from "../lib/format";
import { useQueryParam } from "../lib/route";
import { useAsync } from "../lib/useAsync";
import { type Action, Outcome, useAction } from "../components/Action";
import { DeploymentHistory } from "../components/DeploymentHistory";
import { Link } from "../components/Link";
import { millis, percent, perSecond, rpsSeries, sampleOf, keepRecent, windowOf, type Sample, type Window } from "../components/liveFigures";
import { RolloutPanel, rolloutText } from "../components/Rollout";
import { Sparkline } from "../components/Sparkline";
import { ShareBar, TrafficBar, versionColor } from "../components/TrafficBar";
import { usePoll } from "../components/usePoll";

const q = encodeURIComponent;
const WINDOW_MS = 60_000; // error rate and latency: over the last minute the page saw
const KEEP_MS = 5 * 60_000; // requests/s sparklines: the last five minutes

/** A deployment's status polled every `everyMs`, with the samples the page keeps for live figures. */
function useLive(name: string, everyMs: number) {
  const samples = useRef<Sample[]>([]);
  return usePoll(
    async (signal) => {
      const status = await api.deployment(name, signal);
      const at = Date.now();
      samples.current = keepRecent(samples.current, sampleOf(status, at), KEEP_MS);
      return { status, samples: samples.current, at };
    },
    everyMs,
    [name],
  );
}

/** A figure over the last minute, or (greyed) since the serving processes started when the minute saw no request. */
function Figure({ live, total, show }: { live: number | null | undefined; total: number | null | undefined; show: (x: number | null | undefined) => string }) {
  if (live !== undefined) return <span title="over the last minute">{show(live)}</span>;
  return <span className="muted" title="since the serving processes started (no request in the last minute)">{show(total)}</span>;
}

function lastMinute(w: Window | null): Window | undefined {
  return w && w.requests > 0 ? w : undefined;
}

function instanceCounts(s: DeploymentStatus | undefined): { up: number; stale: number } {
  const all = s?.instances ?? [];
  const stale = all.filter((i) => i.stale).length;
  return { up: all.length - stale, stale };
}

export function DeploymentsPage() {
  const list = useAsync(() => api.deployments(), []);
  const [model, setModel] = useQueryParam("model", "");
  const shown = (list.data?.deployments ?? []).filter((d) => !model || d.model === model);
  return (
    <section className="main">
      <header className="page-head">
        <h1>Deployments</h1>
        {model && (
          <span className="muted">
            of model <Link to={`/models/${q(model)}`}>{model}</Link> · <a href="/deployments" onClick={(e) => { e.preventDefault(); setModel("", true); }}>show all</a>
          </span>
        )}
      </header>
      {list.error && <p className="error" role="alert">{list.error.message}</p>}
      <table className="list" data-testid="deployments">
        <thead>
          <tr><th>name</th><th>model</th><th>follows</th><th>stable</th><th>traffic</th><th>rollout</th><th>instances</th><th>req/s</th><th>error rate</th></tr>
        </thead>
        <tbody>{shown.map((d) => <DeploymentRow key={d.name} d={d} />)}</tbody>
      </table>
      {list.data && shown.length === 0 && (
        <p className="muted">No deployments{model ? ` of ${model}` : ""} yet: <code>modelyard deploy create NAME --model models:/{model || "MODEL"}@champion</code>.</p>
      )}
    </section>
  );
}

function DeploymentRow({ d: listed }: { d: Deployment }) {
  const live = useLive(listed.name, 5000);
  const s = live.data?.status;
  const d: Deployment = s ?? listed;
  const { up, stale } = instanceCounts(s);
  const versions = Object.keys(s?.stats ?? {});
  const rps = versions.reduce((t, v) => t + (s?.stats[v].rps ?? 0), 0);
  const recent = { requests: 0, errors: 0 };
  for (const v of versions) {
    const w = windowOf(live.data?.samples ?? [], v, WINDOW_MS);
    recent.requests += w?.requests ?? 0;
    recent.errors += w?.errors ?? 0;
  }
  const requests = versions.reduce((t, v) => t + (s?.stats[v].requests ?? 0), 0);
  const errors = versions.reduce((t, v) => t + (s?.stats[v].errors ?? 0), 0);
  return (
    <tr data-deployment={d.name}>
      <td><Link to={`/deployments/${q(d.name)}`}>{d.name}</Link> <Link to={`/monitoring/${q(d.name)}`} className="small">monitoring</Link></td>
      <td><Link to={`/models/${q(d.model)}`}>{d.model}</Link></td>
      <td>{d.follow ? <span className="badge">@{d.follow}</span> : <span className="muted">pinned</span>}</td>
      <td>v{d.stable}</td>
      <td><TrafficBar traffic={d.traffic} /></td>
      <td>{rolloutText(d) || <span className="muted">—</span>}</td>
      <td data-testid="instances-count">
        {s ? `${up} up` : ""}
        {stale > 0 && <span className="badge stale">{stale} stale</span>}
      </td>
      <td className="num">{s ? perSecond(rps) : ""}</td>
      <td className="num">
        {s && <Figure live={recent.requests ? recent.errors / recent.requests : undefined} total={requests ? errors / requests : null} show={percent} />}
      </td>
    </tr>
  );
}

/** Every version the page has something to say about, oldest first, with its role in the policy. */
function versionsOf(d: DeploymentStatus): { version: number; roles: string[] }[] {
  const roles = new Map<number, string[]>();
  const add = (v: number | null | undefined, role: string) => {
    if (typeof v !== "number") return;
    roles.set(v, [...(roles.get(v) ?? []), role]);
  };
  add(d.stable, "stable");
  add(d.candidate?.version, "candidate");
  add(d.previous, "previous");
  d.shadow.forEach((v) => add(v, "shadow"));
  d.warm.filter((v) => v !== d.previous && v !== d.candidate?.version).forEach((v) => add(v, "warm"));
  d.traffic.forEach((s) => add(s.version, "live"));
  Object.keys(d.stats).forEach((v) => add(Number(v), "reported"));
  return [...roles.entries()]
    .filter(([v]) => Number.isInteger(v))
    .sort(([a], [b]) => a - b)
    .map(([version, r]) => ({ version, roles: [...new Set(r)].filter((x) => x !== "live" && x !== "reported") }));
}

export function DeploymentPage({ name }: { name: string }) {
  const live = useLive(name, 2000);
  const action = useAction(live.refresh);
  const revision = live.data?.status.revision;
  // every change bumps the revision: the history is read again when it moves
  const events = useAsync(() => (revision === undefined ? Promise.resolve([]) : api.deploymentHistory(name)), [name, revision]);
  const s = live.data?.status;
  if (!s && live.error) return <LoadError error={live.error} what={`deployment ${name}`} back="/deployments" backLabel="all deployments" />;
  if (!s) return <section className="main"><p className="muted">Loading…</p></section>;
  const samples = live.data?.samples ?? [];
  return (
    <section className="main deployment">
      <header className="page-head">
        <h1><Link to="/deployments">Deployments</Link> / {s.name}</h1>
        <span>model <Link to={`/models/${q(s.model)}`}>{s.model}</Link></span>
        <Link to={`/monitoring/${q(s.name)}`}>monitoring</Link>
        {s.follow ? <span className="badge" title={`rolls out whatever @${s.follow} names, by its strategy`}>follows @{s.follow}</span> : <span className="badge">pinned</span>}
        <span className="muted small">{s.engine} · {s.replicas} {s.replicas === 1 ? "replica" : "replicas"}{s.sticky_header ? ` · sticky by ${s.sticky_header}` : ""} · revision {s.revision}</span>
      </header>
      {live.error && <p className="error" role="alert">Could not refresh: {live.error.message} (retrying every 2 s)</p>}
      <TrafficBar traffic={s.traffic} testId="split" />
      <RolloutPanel d={s} figures={s.stats} now={live.data?.at ?? Date.now()} />
      <h2>Versions</h2>
      <table className="list versions" data-testid="versions">
        <thead>
          <tr>
            <th>version</th><th>role</th><th>traffic</th><th>instances</th><th>req/s</th>
            <th>error rate</th><th>p50</th><th>p99</th><th>requests</th>
          </tr>
        </thead>
        <tbody>
          {versionsOf(s).map(({ version, roles }) => (
            <VersionRow key={version} name={s.model} version={version} roles={roles} weight={s.traffic.find((t) => t.version === version)?.weight ?? 0} figures={s.stats[String(version)]} samples={samples} />
          ))}
        </tbody>
      </table>
      <p className="muted small">
        Error rate and latency over the last minute this page saw (greyed: since the serving processes started, when the last minute had no
        request); requests/s as the serving processes measure it (last 10 s). Refreshed every 2 s.
      </p>
      <Instances s={s} />
      <h2>Change</h2>
      <div className="grid-2">
        <PromoteForm d={s} action={action} />
        <RollbackForm d={s} action={action} />
      </div>
      <Outcome action={action} />
      <h2>History</h2>
      {events.error && <p className="error">{events.error.message}</p>}
      <DeploymentHistory events={events.data ?? []} />
    </section>
  );
}

function VersionRow({ name, version, roles, weight, figures, samples }: {
  name: string;
  version: number;
  roles: string[];
  weight: number;
  figures: VersionFigures | undefined;
  samples: Sample[];
}) {
  const v = String(version);
  const w = lastMinute(windowOf(samples, v, WINDOW_MS));
  const f = figures;
  return (
    <tr data-version={version} data-testid={`version-${version}`}>
      <td><Link to={`/models/${q(name)}/versions/${version}`}>v{version}</Link></td>
      <td>{roles.map((r) => <span key={r} className={"badge role " + r}>{r}</span>)}</td>
      <td><ShareBar version={version} weight={weight} /></td>
      <td>
        {f ? (
          <>
            {f.instances.ready > 0 && <span className="badge state ready">{f.instances.ready} ready</span>}
            {f.instances.loading > 0 && <span className="badge state loading">{f.instances.loading} loading</span>}
            {f.instances.failed > 0 && <span className="badge state failed">{f.instances.failed} failed</span>}
            {f.load_errors.map((e, i) => <div key={i} className="load-error">{e}</div>)}
          </>
        ) : <span className="muted">not loaded</span>}
      </td>
      <td className="num rps">
        <span data-testid="rps">{perSecond(f?.rps ?? 0)}</span>{" "}
        <Sparkline values={rpsSeries(samples, v)} color={versionColor(version)} label={`requests/s of v${version} over the last five minutes`} />
      </td>
      <td className="num" data-testid="error-rate"><Figure live={w?.errorRate} total={f?.error_rate} show={percent} /></td>
      <td className="num" data-testid="p50"><Figure live={w?.p50} total={f?.p50_ms} show={millis} /></td>
      <td className="num" data-testid="p99"><Figure live={w?.p99} total={f?.p99_ms} show={millis} /></td>
      <td className="num" data-testid="requests">{(f?.requests ?? 0).toLocaleString("en-US")}</td>
    </tr>
  );
}

function Instances({ s }: { s: DeploymentStatus }) {
  return (
    <>
      <h2>Serving processes</h2>
      {s.instances.length === 0 ? (
        <p className="muted">
          No serving process has reported yet{s.engine === "external" ? <>: start one with <code>modelyard serve --deployment {s.name}</code></> : " (the server starts them)"}.
        </p>
      ) : (
        <table className="list" data-testid="instances">
          <thead><tr><th>instance</th><th>address</th><th>last heard</th><th>versions</th></tr></thead>
          <tbody>
            {s.instances.map((i) => (
              <tr key={i.instance} data-instance={i.instance} className={i.stale ? "stale" : ""}>
                <td><code>{i.instance}</code></td>
                <td><code>{i.url}</code></td>
                <td>{time(i.last_seen)} {i.stale && <span className="badge stale" title="not heard from for 10 s: not counted">stale</span>}</td>
                <td>
                  {Object.entries(i.versions).map(([v, r]) => (
                    <div key={v}>
                      <span className={"badge state " + r.state}>v{v} {r.state}</span>
                      {r.error && <span className="load-error">{r.error}</span>}
                    </div>
                  ))}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

function PromoteForm({ d, action }: { d: DeploymentStatus; action: Action }) {
  const versions = useAsync(() => api.modelVersions(d.model), [d.model]);
  const all = (versions.data?.versions ?? []).map((v) => v.version).sort((a, b) => b - a);
  const [picked, setPicked] = useState("");
  const [strategy, setStrategy] = useState<"" | "blue-green" | "canary">("");
  const [reason, setReason] = useState("");
  const version = picked || String(all.find((v) => v !== d.stable) ?? all[0] ?? "");
  const how = strategy || d.rollout.strategy;
  const promote = () =>
    action.run("Promote", async () => {
      await api.promote(d.name, { version: Number(version), strategy: how, reason, revision: d.revision });
      setReason("");
      return `v${version} promoted (${how})`;
    });
  return (
    <form className="action-card" data-testid="promote" onSubmit={(e) => { e.preventDefault(); void promote(); }}>
      <h3>Promote</h3>
      <div className="row">
        <label>version{" "}
          <select value={version} onChange={(e) => setPicked(e.target.value)} aria-label="version to promote">
            {all.map((v) => <option key={v} value={v}>v{v}{v === d.stable ? " (stable)" : ""}</option>)}
          </select>
        </label>
        <label>strategy{" "}
          <select value={how} onChange={(e) => setStrategy(e.target.value as "blue-green" | "canary")} aria-label="strategy">
            <option value="blue-green">blue-green</option>
            <option value="canary">canary</option>
          </select>
        </label>
      </div>
      <div className="row">
        <input value={reason} onChange={(e) => setReason(e.target.value)} placeholder="reason (kept in the history)" aria-label="promote reason" />
        <button className="primary" type="submit" disabled={action.busy || !version}>Promote</button>
      </div>
    </form>
  );
}

function RollbackForm({ d, action }: { d: DeploymentStatus; action: Action }) {
  const [reason, setReason] = useState("");
  const what = d.candidate ? `calls off the rollout of v${d.candidate.version}` : d.previous !== null ? `moves all traffic back to v${d.previous}` : "has nothing to go back to yet";
  const rollback = () =>
    action.run("Rollback", async () => {
      const after = await api.rollback(d.name, { reason, revision: d.revision });
      setReason("");
      return `rolled back: all traffic on v${after.stable}`;
    });
  return (
    <form className="action-card" data-testid="rollback" onSubmit={(e) => { e.preventDefault(); void rollback(); }}>
      <h3>Rollback</h3>
      <p className="muted small">Now it {what}.</p>
      <div className="row">
        <input value={reason} onChange={(e) => setReason(e.target.value)} placeholder="reason (kept in the history)" aria-label="rollback reason" />
        <button type="submit" disabled={action.busy}>Rollback</button>
      </div>
    </form>
  );
}
