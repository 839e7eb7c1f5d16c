/** MLflow 3 logged models: an experiment's (filter, order, pages) and a run's, each with its
 * latest metrics, params and tags, and the run that logged it. */
import { Fragment, useState } from "react";
import { ago, num, time } from "../lib/format";
import { latestMetrics, loggedModels, type LoggedModel } from "../lib/registry";
import { useAsync } from "../lib/useAsync";
import { Link } from "./Link";
import { RegisterLoggedModel } from "./RegisterModel";
import "./registry.css";

const ORDERS: [string, string][] = [
  ["", "newest first"],
  ["creation_time ASC", "oldest first"],
  ["name ASC", "name"],
];

export function ExperimentLoggedModels({ experimentId }: { experimentId: number }) {
  const [draft, setDraft] = useState("");
  const [filter, setFilter] = useState("");
  const [order, setOrder] = useState("");
  const [pages, setPages] = useState<(string | null)[]>([null]);
  const page = pages[pages.length - 1];
  const found = useAsync((signal) => loggedModels.ofExperiment(experimentId, { filter, order_by: order, page_token: page }, signal), [experimentId, filter, order, page]);
  const reset = () => setPages([null]);
  return (
    <div data-testid="logged-models">
      <form className="toolbar" onSubmit={(e) => { e.preventDefault(); setFilter(draft.trim()); reset(); }}>
        <input value={draft} onChange={(e) => setDraft(e.target.value)} placeholder="filter, e.g. metrics.accuracy > 0.9 AND params.C = '1'" aria-label="filter logged models" size={48} data-testid="logged-filter" />
        <button type="submit">Filter</button>
        <label>order <select value={order} onChange={(e) => { setOrder(e.target.value); reset(); }} aria-label="order logged models">{ORDERS.map(([v, l]) => <option key={v} value={v}>{l}</option>)}</select></label>
      </form>
      {found.error && <p className="error" role="alert">{found.error.message}</p>}
      {found.data && <LoggedModelTable models={found.data.models} />}
      {found.data?.models.length === 0 && <p className="muted">{filter ? "No logged model matches." : "No logged models in this experiment: mlflow.sklearn.autolog() or mlflow.<flavor>.log_model() logs them."}</p>}
      <div className="row">
        {pages.length > 1 && <button onClick={() => setPages(pages.slice(0, -1))}>Previous</button>}
        {found.data?.next_page_token && <button onClick={() => setPages([...pages, found.data!.next_page_token])}>Next</button>}
      </div>
    </div>
  );
}

/** The models a run logged and read (for the run page). */
export function LoggedModels({ runId }: { runId: string }) {
  const found = useAsync((signal) => loggedModels.ofRun(runId, signal), [runId]);
  if (found.error) return <p className="error" role="alert">{found.error.message}</p>;
  if (!found.data) return null;
  const { outputs, inputs } = found.data;
  if (outputs.length === 0 && inputs.length === 0) return null;
  return (
    <section data-testid="run-logged-models">
      <h2>Logged models</h2>
      {outputs.length > 0 && <LoggedModelTable models={outputs} hideRun />}
      {inputs.length > 0 && (<><h3>Models it read</h3><LoggedModelTable models={inputs} /></>)}
    </section>
  );
}

export function LoggedModelTable({ models, hideRun = false }: { models: LoggedModel[]; hideRun?: boolean }) {
  const [open, setOpen] = useState<string | null>(null);
  return (
    <table className="list logged-models">
      <thead><tr><th>name</th><th>status</th>{!hideRun && <th>run</th>}<th>type</th><th>metrics (latest)</th><th>created</th><th><span className="sr-only">actions</span></th></tr></thead>
      <tbody>
        {models.map((m) => {
          const latest = Object.values(latestMetrics(m.metrics));
          return (
            <Fragment key={m.id}>
              <tr data-testid={`logged-model-${m.id}`}>
                <td>
                  <button className="link" aria-expanded={open === m.id} onClick={() => setOpen(open === m.id ? null : m.id)}>{m.name}</button>
                  <div className="muted small"><code>{m.id}</code></div>
                </td>
                <td><span className={"badge " + m.status.toLowerCase()}>{m.status.toLowerCase()}</span></td>
                {!hideRun && <td>{m.run_id ? <Link to={`/runs/${m.run_id}`}>{m.run_name || m.run_id.slice(0, 8)}</Link> : ""}</td>}
                <td>{m.model_type}</td>
                <td className="metrics">{latest.slice(0, 4).map((p) => <span key={p.key} className="badge">{p.key} {num(p.value)}</span>)}{latest.length > 4 && <span className="muted">+{latest.length - 4}</span>}</td>
                <td title={time(m.created_at)}>{ago(m.created_at)}</td>
                <td>{m.status === "READY" && <RegisterLoggedModel modelId={m.id} label={`${m.name} ${m.id}`} />}</td>
              </tr>
              {open === m.id && (
                <tr>
                  <td colSpan={hideRun ? 6 : 7}>
                    <LoggedModelDetail model={m} />
                  </td>
                </tr>
              )}
            </Fragment>
          );
        })}
      </tbody>
    </table>
  );
}

function LoggedModelDetail({ model }: { model: LoggedModel }) {
  const latest = Object.values(latestMetrics(model.metrics));
  return (
    <div className="grid-2" data-testid="logged-model-detail">
      <div>
        <h3>Metrics</h3>
        {latest.length ? (
          <table className="kv"><tbody>{latest.map((p) => <tr key={p.key}><td>{p.key}</td><td>{num(p.value)}</td><td className="muted small">{p.dataset_name ? `on ${p.dataset_name}` : ""}{p.step ? ` step ${p.step}` : ""}</td></tr>)}</tbody></table>
        ) : <p className="muted">none</p>}
        <p className="muted small">Load it: <code>mlflow.pyfunc.load_model("models:/{model.id}")</code></p>
      </div>
      <div>
        <h3>Params</h3>
        {Object.keys(model.params).length ? (
          <table className="kv"><tbody>{Object.entries(model.params).map(([k, v]) => <tr key={k}><td>{k}</td><td>{v}</td></tr>)}</tbody></table>
        ) : <p className="muted">none</p>}
        <h3>Tags</h3>
        {Object.keys(model.tags).length ? (
          <table className="kv"><tbody>{Object.entries(model.tags).map(([k, v]) => <tr key={k}><td>{k}</td><td>{v}</td></tr>)}</tbody></table>
        ) : <p className="muted">none</p>}
      </div>
    </div>
  );
}
