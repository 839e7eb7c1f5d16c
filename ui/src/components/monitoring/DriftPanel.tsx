/** The drift table: one row per column (drifted first), the dataset verdict above; a row opens
 * the column's distributions, reference and current on the same bins or categories. */
import { Fragment, useState } from "react";
import { figureText, type Distribution, type Drift, type DriftColumn } from "../../lib/monitoring";

export function DriftPanel({ drift }: { drift: Drift }) {
  const [open, setOpen] = useState<string | null>(null);
  const drifted = drift.columns.filter((c) => c.drifted).length;
  const ref = drift.reference;
  const refText =
    ref.kind === "window"
      ? "a window of the log"
      : typeof ref.dataset === "string"
        ? `training data ${ref.dataset}${typeof ref.dataset_version === "number" ? ` v${ref.dataset_version}` : ""}${ref.kind === "profile" ? " (its profile)" : ""}`
        : String(ref.kind ?? "");
  return (
    <div data-testid="drift">
      <p className="mon-verdict" data-testid="drift-verdict">
        <span className={"badge " + (drift.dataset_drift ? "drifted" : "stable")}>{drift.dataset_drift ? "dataset drift" : "no dataset drift"}</span>{" "}
        {drifted} of {drift.columns.length} columns drifted ({figureText(drift.drifted_share, "percent")}
        {drift.drift_share !== null ? `; the verdict needs ${figureText(drift.drift_share, "percent")}` : ""}) · reference: {refText}
        {drift.n_reference !== null ? ` (${drift.n_reference.toLocaleString("en-US")} rows)` : ""}
        {drift.n_current !== null ? ` · current: ${drift.n_current.toLocaleString("en-US")} rows` : ""}
      </p>
      {drift.schema.length > 0 && (
        <ul className="mon-schema" data-testid="schema-findings">
          {drift.schema.map((s, i) => <li key={i}><code>{s.column}</code> {s.change}{s.detail ? `: ${s.detail}` : ""}</li>)}
        </ul>
      )}
      <table className="list mon-drift" data-testid="drift-table">
        <thead>
          <tr><th>column</th><th>kind</th><th>method</th><th>score</th><th>threshold</th><th>drift</th><th>missing (ref → cur)</th><th>out of range</th></tr>
        </thead>
        <tbody>
          {drift.columns.map((c) => (
            <Fragment key={c.column}>
              <tr
                data-column={c.column}
                className={"clickable" + (c.drifted ? " drifted" : "") + (open === c.column ? " open" : "")}
                onClick={() => setOpen(open === c.column ? null : c.column)}
                tabIndex={0}
                onKeyDown={(e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); setOpen(open === c.column ? null : c.column); } }}
                aria-expanded={open === c.column}
              >
                <td><span className="mon-caret">{open === c.column ? "▾" : "▸"}</span> <code>{c.column}</code></td>
                <td>{c.kind || "—"}</td>
                <td>{c.method || "—"}</td>
                <td className="num" data-testid="score">{figureText(c.score)}</td>
                <td className="num">{figureText(c.threshold)}</td>
                <td>{c.drifted ? <span className="badge drifted" data-testid="drifted">drifted</span> : c.note ? <span className="muted" title={c.note}>not tested</span> : <span className="muted">ok</span>}</td>
                <td className="num">{figureText(c.missing_reference, "percent")} → {figureText(c.missing_current, "percent")}</td>
                <td className="num">{figureText(c.out_of_range, "percent")}</td>
              </tr>
              {open === c.column && (
                <tr className="mon-dist-row">
                  <td colSpan={8}><Distributions column={c} /></td>
                </tr>
              )}
            </Fragment>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function Distributions({ column }: { column: DriftColumn }) {
  const d: Distribution | null = column.distribution;
  if (!d) return <p className="muted" data-testid="distribution">{column.note || "No distribution was sent for this column."}</p>;
  const top = Math.max(...d.reference, ...d.current, 1e-12);
  return (
    <div className="mon-dist" data-testid="distribution" data-kind={d.kind}>
      <div className="mon-legend"><span className="swatch ref" /> reference <span className="swatch cur" /> current <span className="muted small">(shares of each side, same {d.kind === "bins" ? "bins" : "categories"})</span></div>
      <table>
        <tbody>
          {d.labels.map((label, i) => (
            <tr key={i} data-testid="bin">
              <th title={label}>{label}</th>
              <td>
                <div className="bar ref" style={{ width: `${(d.reference[i] / top) * 100}%` }} title={`reference ${figureText(d.reference[i], "percent")}`} />
                <div className="bar cur" style={{ width: `${(d.current[i] / top) * 100}%` }} title={`current ${figureText(d.current[i], "percent")}`} />
              </td>
              <td className="num small">{figureText(d.reference[i], "percent")} → {figureText(d.current[i], "percent")}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
