/** Pick which params, metrics and tags the runs table shows. */
import { useMemo, useState } from "react";
import type { Keys } from "../lib/complete";

export function ColumnChooser({ keys, columns, onChange }: { keys: Keys; columns: string[]; onChange: (cols: string[]) => void }) {
  const [open, setOpen] = useState(false);
  const [needle, setNeedle] = useState("");
  const chosen = useMemo(() => new Set(columns), [columns]);
  const groups: [string, "m" | "p" | "t", string[]][] = [
    ["Metrics", "m", keys.metrics],
    ["Params", "p", keys.params],
    ["Tags", "t", keys.tags],
  ];
  const toggle = (id: string) => onChange(chosen.has(id) ? columns.filter((c) => c !== id) : [...columns, id]);
  return (
    <div className="popover-anchor">
      <button onClick={() => setOpen(!open)} aria-expanded={open} data-testid="columns-button">
        Columns ({columns.length})
      </button>
      {open && (
        <div className="popover columns" data-testid="columns">
          <input autoFocus placeholder="find a key" value={needle} onChange={(e) => setNeedle(e.target.value)} />
          <div className="row">
            <button onClick={() => onChange([])}>None</button>
            <button onClick={() => setOpen(false)}>Done</button>
          </div>
          {groups.map(([title, kind, list]) => (
            <fieldset key={kind}>
              <legend>{title}</legend>
              {list.filter((k) => k.toLowerCase().includes(needle.toLowerCase())).slice(0, 300).map((k) => (
                <label key={k}>
                  <input type="checkbox" checked={chosen.has(`${kind}:${k}`)} onChange={() => toggle(`${kind}:${k}`)} /> {k}
                </label>
              ))}
            </fieldset>
          ))}
        </div>
      )}
    </div>
  );
}
