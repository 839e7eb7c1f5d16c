/** The experiments overview: every experiment with its runs, last activity and tags; create,
 * rename, delete (asked twice) and restore (the "deleted" view). */
import { useState } from "react";
import { ConfirmButton, Outcome, useAction } from "../components/Action";
import { Link } from "../components/Link";
import { ago, num, time } from "../lib/format";
import { experiments, type ExperimentSummary } from "../lib/registry";
import { useQueryParam } from "../lib/route";
import { useAsync } from "../lib/useAsync";
import "../components/registry.css";

export function ExperimentsPage() {
  const [view, setView] = useQueryParam("view", "active");
  const [filter, setFilter] = useQueryParam("q");
  const deleted = view === "deleted";
  const list = useAsync((signal) => experiments.list(deleted ? "deleted" : "active", signal), [deleted]);
  const action = useAction(list.reload);
  const [name, setName] = useState("");
  const needle = filter.toLowerCase();
  const shown = (list.data ?? [])
    .filter((e) => !needle || e.name.toLowerCase().includes(needle) || Object.entries(e.tags).some(([k, v]) => `${k}=${v}`.toLowerCase().includes(needle)))
    .sort((a, b) => activity(b) - activity(a));
  return (
    <section className="main">
      <header className="page-head">
        <h1>Experiments</h1>
        <span className="muted">{list.data ? `${shown.length} of ${list.data.length}` : ""}</span>
      </header>
      <div className="toolbar">
        <input type="search" value={filter} onChange={(e) => setFilter(e.target.value)} placeholder="filter by name or tag" aria-label="filter experiments" />
        <label><input type="checkbox" checked={deleted} onChange={(e) => setView(e.target.checked ? "deleted" : "active", true)} data-testid="show-deleted" /> deleted</label>
        {!deleted && (
          <form
            className="row"
            onSubmit={(e) => {
              e.preventDefault();
              const wanted = name.trim();
              if (!wanted) return;
              void action.run("Create", async () => {
                const made = await experiments.create(wanted);
                setName("");
                return `Created experiment ${made.name}.`;
              });
            }}
          >
            <input value={name} onChange={(e) => setName(e.target.value)} placeholder="new experiment name" aria-label="new experiment name" data-testid="new-experiment" />
            <button type="submit" disabled={!name.trim() || action.busy}>Create</button>
          </form>
        )}
      </div>
      <Outcome action={action} testId="experiments" />
      {list.error && <p className="error" role="alert">{list.error.message}</p>}
      <table className="list" data-testid="experiments">
        <thead><tr><th>name</th><th className="num">runs</th><th>last activity</th><th>tags</th><th>created</th><th><span className="sr-only">actions</span></th></tr></thead>
        <tbody>
          {shown.map((e) => <Row key={e.id} exp={e} deleted={deleted} action={action} />)}
        </tbody>
      </table>
      {list.data && shown.length === 0 && (
        <p className="muted">{deleted ? "No deleted experiments." : filter ? "No experiment matches." : "No experiments yet: create one above, or log a run with my.start_run()."}</p>
      )}
    </section>
  );
}

function activity(e: ExperimentSummary): number {
  return Math.max(e.last_run_at ?? 0, e.updated_at ?? 0, e.created_at ?? 0);
}

function Row({ exp, deleted, action }: { exp: ExperimentSummary; deleted: boolean; action: ReturnType<typeof useAction> }) {
  const [renaming, setRenaming] = useState(false);
  const [name, setName] = useState(exp.name);
  const last = exp.last_run_at;
  return (
    <tr data-testid={`experiment-${exp.id}`}>
      <td className="exp-name">
        {renaming ? (
          <form
            className="row"
            onSubmit={(e) => {
              e.preventDefault();
              void action.run("Rename", async () => {
                await experiments.rename(exp.id, name.trim());
                setRenaming(false);
                return `Renamed ${exp.name} to ${name.trim()}.`;
              });
            }}
            onKeyDown={(e) => {
              if (e.key === "Escape") setRenaming(false);
            }}
          >
            <input value={name} onChange={(e) => setName(e.target.value)} aria-label={`new name of ${exp.name}`} autoFocus />
            <button type="submit" disabled={!name.trim() || name.trim() === exp.name}>Save</button>
            <button type="button" onClick={() => setRenaming(false)}>Cancel</button>
          </form>
        ) : deleted ? (
          <span>{exp.name}</span>
        ) : (
          <Link to={`/experiments/${exp.id}`}>{exp.name}</Link>
        )}
        {exp.description && <div className="muted small">{exp.description}</div>}
      </td>
      <td className="num" data-testid="runs">{num(exp.runs)}</td>
      <td title={last ? time(last) : ""}>{last ? ago(last) : <span className="muted">no runs</span>}</td>
      <td><span className="tag-list">{Object.entries(exp.tags).filter(([k]) => !k.startsWith("mlflow.")).map(([k, v]) => <span key={k} className="badge">{k}={v}</span>)}</span></td>
      <td>{time(exp.created_at)}</td>
      <td>
        {deleted ? (
          <button onClick={() => void action.run("Restore", async () => (await experiments.restore(exp.id), `Restored ${exp.name}.`))}>Restore</button>
        ) : (
          !renaming && (
            <span className="row">
              <button onClick={() => { setName(exp.name); setRenaming(true); }} aria-label={`rename ${exp.name}`}>Rename</button>
              <ConfirmButton label="Delete" question={`Delete ${exp.name} and hide its ${exp.runs} runs?`} onConfirm={() => void action.run("Delete", async () => (await experiments.remove(exp.id), `Deleted ${exp.name} (restore it from the deleted view).`))} />
            </span>
          )
        )}
      </td>
    </tr>
  );
}
