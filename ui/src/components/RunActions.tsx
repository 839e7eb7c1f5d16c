/** The runs toolbar's changes: delete the selected runs (after asking), restore deleted ones,
 * and export the table as CSV; the server's refusal is shown as it words it. */
import { useEffect, useRef, useState } from "react";
import type { Run } from "../lib/api";
import { cellValue, columnField } from "../lib/columns";
import { download, toCsv } from "../lib/csv";
import { allRuns, runsApi, type RunSearch, type RunView } from "../lib/runsApi";
import { refusal } from "./Action";

/** The CSV of some runs: a run_id column, then the given columns in their order. */
export function runsCsv(runs: Run[], ids: string[]): string {
  const header = ["run_id", ...ids.map((id) => (id === "duration" ? "duration_ms" : columnField(id)))];
  const rows = runs.map((run) => [
    run.id,
    ...ids.map((id) => {
      const v = cellValue(run, id);
      if (v === null) return null;
      if (id === "start_time") return new Date(v as number).toISOString();
      if (id === "duration") return run.end_time === null ? null : v;
      return v;
    }),
  ]);
  return toCsv(header, rows);
}

interface Outcome {
  ok: boolean;
  text: string;
}

/** Apply one change to each run in turn; say how many were done and the first refusal. */
async function each(ids: string[], verb: string, change: (id: string) => Promise<void>): Promise<{ done: string[]; outcome: Outcome }> {
  const done: string[] = [];
  let refused: string | null = null;
  for (const id of ids) {
    try {
      await change(id);
      done.push(id);
    } catch (e) {
      refused = refusal(e);
      break;
    }
  }
  const n = (k: number) => `${k} run${k === 1 ? "" : "s"}`;
  if (refused === null) return { done, outcome: { ok: true, text: `${verb} ${n(done.length)}.` } };
  const part = done.length ? `${verb} ${n(done.length)} of ${ids.length}; then ` : "";
  return { done, outcome: { ok: false, text: `${part}${verb.toLowerCase()} refused: ${refused}` } };
}

/** A button that asks before it acts: Yes / No, Escape says no. */
function Confirm({ label, question, onConfirm, disabled, testId }: {
  label: string;
  question: string;
  onConfirm: () => void;
  disabled?: boolean;
  testId: string;
}) {
  const [asking, setAsking] = useState(false);
  const no = useRef<HTMLButtonElement>(null);
  const opener = useRef<HTMLButtonElement>(null);
  useEffect(() => { if (asking) no.current?.focus(); }, [asking]);
  const close = () => { setAsking(false); requestAnimationFrame(() => opener.current?.focus()); };
  if (!asking) return <button ref={opener} disabled={disabled} onClick={() => setAsking(true)} data-testid={testId}>{label}</button>;
  return (
    <span className="confirm" role="group" aria-label={question} data-testid={`${testId}-confirm`} onKeyDown={(e) => { if (e.key === "Escape") close(); }}>
      <span>{question}</span>
      <button className="danger" onClick={() => { setAsking(false); onConfirm(); }}>Yes, {label.toLowerCase()}</button>
      <button ref={no} onClick={close}>No</button>
    </span>
  );
}

export function RunActions({ experimentName, view, selected, search, ids, onChanged }: {
  experimentName: string;
  view: RunView;
  selected: string[];
  /** the search the table shows (its filter and order) */
  search: RunSearch;
  /** the visible columns, in order */
  ids: string[];
  /** after a change: the runs changed (to drop from the selection) */
  onChanged: (ids: string[]) => void;
}) {
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const change = async (verb: string, fn: (id: string) => Promise<void>) => {
    setBusy(true);
    setOutcome(null);
    const result = await each(selected, verb, fn);
    setOutcome(result.outcome);
    setBusy(false);
    onChanged(result.done);
  };
  const exportCsv = async () => {
    setBusy(true);
    setOutcome(null);
    try {
      const runs = await allRuns(search);
      const stamp = new Date().toISOString().slice(0, 10);
      download(`${experimentName.replace(/[^\w.-]+/g, "_")}-${view === "deleted" ? "deleted-" : ""}runs-${stamp}.csv`, runsCsv(runs, ids));
      setOutcome({ ok: true, text: `Exported ${runs.length} runs.` });
    } catch (e) {
      setOutcome({ ok: false, text: `Export failed: ${refusal(e)}` });
    } finally {
      setBusy(false);
    }
  };
  const n = selected.length;
  return (
    <>
      {view === "active" ? (
        <Confirm
          label={`Delete${n ? " " + n : ""}`}
          question={`Delete ${n} run${n === 1 ? "" : "s"}? They can be restored from the deleted runs.`}
          disabled={busy || n === 0}
          onConfirm={() => void change("Deleted", runsApi.delete)}
          testId="delete-runs"
        />
      ) : (
        <button disabled={busy || n === 0} onClick={() => void change("Restored", runsApi.restore)} data-testid="restore-runs">
          Restore{n ? " " + n : ""}
        </button>
      )}
      <button disabled={busy} onClick={() => void exportCsv()} data-testid="export-csv" title="every run matching the filter, with the visible columns">
        Export CSV
      </button>
      {outcome && (
        <span className={outcome.ok ? "ok" : "error"} role={outcome.ok ? "status" : "alert"} data-testid={outcome.ok ? "runs-action-done" : "runs-action-error"}>
          {outcome.text}
        </span>
      )}
    </>
  );
}
