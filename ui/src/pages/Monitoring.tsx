/** Monitoring (issue 14): the overview of every monitored deployment, and a deployment's page:
 * quality over time (realized and estimated), service health, drift per column with its
 * distributions, and its alert rules and firings. Window, span, version and drift reference
 * live in the URL. */
import { useState } from "react";
import { api } from "../lib/api";
import { Link } from "../components/Link";
import { AlertsPanel } from "../components/monitoring/AlertsPanel";
import { DriftPanel } from "../components/monitoring/DriftPanel";
import { HealthPanel } from "../components/monitoring/HealthPanel";
import { QualityPanel } from "../components/monitoring/QualityPanel";
import "../components/monitoring/monitoring.css";
import { figureText, kindOf, monitoringApi, previousSpan, SPANS, spanOf, WINDOWS } from "../lib/monitoring";
import { useQueryParam } from "../lib/route";
import { useAsync } from "../lib/useAsync";

const q = encodeURIComponent;

/** The overview's columns: headline figures of the latest window. */
const HEADLINE = ["accuracy", "estimated_accuracy", "mae", "error_rate", "latency_p99_ms", "throughput_rps", "availability", "drift_share"];

function WindowSelect({ value, onChange }: { value: string; onChange: (v: string) => void }) {
  return (
    <label>window{" "}
      <select value={value} onChange={(e) => onChange(e.target.value)} data-testid="window" aria-label="window">
        {WINDOWS.map((w) => <option key={w} value={w}>{w}</option>)}
      </select>
    </label>
  );
}

export function MonitoringIndexPage() {
  const [window, setWindow] = useQueryParam("window", "1h");
  const list = useAsync((signal) => monitoringApi.overview(window, signal), [window]);
  const rows = list.data ?? [];
  return (
    <section className="main">
      <header className="page-head">
        <h1>Monitoring</h1>
        <span className="muted">every deployment (and model logged through the SDK) over its latest {window}</span>
      </header>
      <div className="mon-toolbar"><WindowSelect value={window} onChange={setWindow} /></div>
      {list.error && <p className="error" role="alert">{list.error.message}</p>}
      <table className="list" data-testid="monitoring-overview">
        <thead>
          <tr><th>deployment</th><th>model</th>{HEADLINE.map((f) => <th key={f} className="num">{f}</th>)}<th className="num">firing alerts</th></tr>
        </thead>
        <tbody>
          {rows.map((d) => (
            <tr key={d.name} data-deployment={d.name}>
              <td><Link to={`/monitoring/${q(d.name)}?window=${q(window)}`}>{d.name}</Link></td>
              <td><Link to={`/models/${q(d.model)}`}>{d.model}</Link></td>
              {HEADLINE.map((f) => <td key={f} className="num" data-figure={f}>{figureText(d.figures?.[f], kindOf(f))}</td>)}
              <td className="num" data-testid="alerts-firing">
                {typeof d.alerts_firing === "number" && d.alerts_firing > 0 ? <span className="badge alert-state firing">{d.alerts_firing}</span> : typeof d.alerts_firing === "number" ? "0" : "—"}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {list.data && rows.length === 0 && (
        <p className="muted">Nothing is monitored yet: deploy a model (its served predictions are logged), or log batch predictions with <code>my.monitoring.log_predictions</code>.</p>
      )}
    </section>
  );
}

export function MonitoringPage({ name }: { name: string }) {
  const [window, setWindow] = useQueryParam("window", "1h");
  const [span, setSpan] = useQueryParam("span", "1d");
  const [versionText, setVersion] = useQueryParam("version", "");
  const [reference, setReference] = useQueryParam("reference", "training");
  const [now, setNow] = useState(() => Date.now());
  const version = versionText && /^\d+$/.test(versionText) ? Number(versionText) : null;
  const { since, until } = spanOf(span, now);
  const common = { since, until, version };

  const target = useAsync(async () => {
    try {
      const d = await api.deployment(name);
      return { model: d.model, deployment: true };
    } catch {
      return { model: name, deployment: false }; // a registered model whose batch predictions the SDK logged
    }
  }, [name]);
  const model = target.data?.model;
  const versions = useAsync(() => (model ? api.modelVersions(model).then((a) => a.versions.map((v) => v.version).sort((x, y) => y - x)) : Promise.resolve([] as number[])), [model]);
  const quality = useAsync((signal) => monitoringApi.quality(name, { window, ...common }, signal), [name, window, since, version]);
  const health = useAsync((signal) => monitoringApi.health(name, { window: window, ...common }, signal), [name, window, since, version]);
  const ref = reference === "window" ? previousSpan(span, now) : null;
  const driftParams = { reference, reference_since: ref?.since, reference_until: ref?.until, ...common };
  const drift = useAsync((signal) => monitoringApi.drift(name, driftParams, signal), [name, reference, since, version]);
  const rules = useAsync((signal) => monitoringApi.rules(name, signal), [name, now]);
  const firings = useAsync((signal) => monitoringApi.firings(name, signal), [name, now]);
  const refreshAlerts = () => {
    rules.reload();
    firings.reload();
  };

  return (
    <section className="main monitoring">
      <header className="page-head">
        <h1><Link to="/monitoring">Monitoring</Link> / {name}</h1>
        {target.data?.deployment && <Link to={`/deployments/${q(name)}`}>deployment</Link>}
        {model && <span>model <Link to={`/models/${q(model)}`}>{model}</Link></span>}
      </header>
      <div className="mon-toolbar">
        <WindowSelect value={window} onChange={setWindow} />
        <label>span{" "}
          <select value={span} onChange={(e) => setSpan(e.target.value)} data-testid="span" aria-label="time span">
            {Object.keys(SPANS).map((s) => <option key={s} value={s}>last {s}</option>)}
          </select>
        </label>
        <label>version{" "}
          <select value={versionText} onChange={(e) => setVersion(e.target.value)} data-testid="version" aria-label="model version">
            <option value="">all versions</option>
            {(versions.data ?? []).map((v) => <option key={v} value={String(v)}>v{v}</option>)}
            {version !== null && !(versions.data ?? []).includes(version) && <option value={String(version)}>v{version}</option>}
          </select>
        </label>
        <button onClick={() => setNow(Date.now())} data-testid="refresh">Refresh</button>
      </div>

      <h2>Quality</h2>
      <Loaded state={quality}>{(data) => <QualityPanel quality={data} version={version} span={{ since, until }} />}</Loaded>

      <h2>Service health</h2>
      <Loaded state={health}>{(data) => <HealthPanel health={data} span={{ since, until }} />}</Loaded>

      <h2>Drift</h2>
      <div className="mon-toolbar">
        <label>reference{" "}
          <select value={reference} onChange={(e) => setReference(e.target.value)} data-testid="reference" aria-label="drift reference">
            <option value="training">training data</option>
            <option value="window">the span before (a window)</option>
          </select>
        </label>
        <a href={monitoringApi.reportUrl(name, driftParams)} download={`drift-${name}.html`} data-testid="report">Download report</a>
      </div>
      <Loaded state={drift}>{(data) => <DriftPanel drift={data} />}</Loaded>

      <h2>Alerts</h2>
      {rules.error || firings.error ? (
        <p className="error" role="alert">{(rules.error ?? firings.error)!.message}</p>
      ) : (
        rules.data && firings.data && <AlertsPanel rules={rules.data} firings={firings.data} onChange={refreshAlerts} now={Date.now()} />
      )}
    </section>
  );
}

/** A panel's data once loaded; its error as the server words it (a drift with no data answers 409). */
function Loaded<T>({ state, children }: { state: { data: T | undefined; error: Error | undefined; loading: boolean }; children: (data: T) => React.ReactNode }) {
  if (state.error) return <p className="error" role="alert" data-testid="panel-error">{state.error.message}</p>;
  if (state.data === undefined) return <p className="muted">Loading…</p>;
  return <div className={state.loading ? "mon-stale" : ""}>{children(state.data)}</div>;
}
