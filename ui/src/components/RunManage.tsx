/** Managing one run from its page: rename it in place, delete and restore it, and say why it failed. */
import { useState } from "react";
import type { Run } from "../lib/api";
import { ERROR_TAG, runEdits } from "../lib/runEdits";
import { ConfirmButton, Outcome, type Action } from "./Action";

/** The run's name as the page title (long names wrap, and the whole name is its tooltip), with
 * a Rename button that turns it into a field: Enter saves, Escape cancels. */
export function RunTitle({ run, action }: { run: Run; action: Action }) {
  const [draft, setDraft] = useState<string | null>(null);
  const shown = run.name || run.id;
  if (draft === null) {
    return (
      <>
        <h1 className="run-name" title={shown} data-testid="run-name">{shown}</h1>
        <button className="small" onClick={() => setDraft(run.name)} disabled={action.busy} aria-label="Rename this run">Rename</button>
      </>
    );
  }
  const save = async () => {
    const name = draft.trim();
    if (!name || name === run.name) {
      setDraft(null);
      return;
    }
    if (await action.run("Rename", async () => { await runEdits.rename(run.id, name); return `Renamed to “${name}”.`; })) setDraft(null);
  };
  return (
    <form className="rename" onSubmit={(e) => { e.preventDefault(); void save(); }}>
      <input
        value={draft}
        onChange={(e) => setDraft(e.target.value)}
        onKeyDown={(e) => { if (e.key === "Escape") setDraft(null); }}
        aria-label="Run name"
        maxLength={500}
        autoFocus
      />
      <button className="primary" type="submit" disabled={action.busy}>Save</button>
      <button type="button" onClick={() => setDraft(null)}>Cancel</button>
    </form>
  );
}

/** Delete (after a confirmation) or, for a deleted run, nothing: the banner offers Restore. */
export function DeleteRun({ run, action }: { run: Run; action: Action }) {
  if (run.lifecycle === "deleted") return null;
  return (
    <ConfirmButton
      label="Delete"
      question="Delete this run? It can be restored until it is garbage-collected."
      disabled={action.busy}
      onConfirm={() => void action.run("Delete", async () => { await runEdits.remove(run.id); return "The run was deleted."; })}
    />
  );
}

export function DeletedBanner({ run, action }: { run: Run; action: Action }) {
  if (run.lifecycle !== "deleted") return null;
  return (
    <div className="banner deleted" role="status" data-testid="deleted-banner">
      <strong>This run is deleted.</strong>
      <span>It is hidden from its experiment's table and will be removed for good by the next garbage collection.</span>
      <button
        className="primary"
        disabled={action.busy}
        onClick={() => void action.run("Restore", async () => { await runEdits.restore(run.id); return "The run was restored."; })}
      >
        Restore
      </button>
    </div>
  );
}

/** A failed run's error, as the SDK recorded it (the exception's type and message). */
export function FailureBox({ run }: { run: Run }) {
  if (run.status !== "FAILED") return null;
  const error = run.tags[ERROR_TAG];
  return (
    <div className="banner failure" role="alert" data-testid="run-error">
      <strong>This run failed.</strong>
      {error ? <pre className="run-error-text">{error}</pre> : <span className="muted">No error message was recorded (the SDK records the exception of a run whose <code>with</code> block raised).</span>}
    </div>
  );
}

export { Outcome };
