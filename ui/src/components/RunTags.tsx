/** A run's own tags (not the SDK's `my.*` or MLflow's `mlflow.*`): add, change and remove them. */
import { useState } from "react";
import type { Run } from "../lib/api";
import { runEdits, userTag } from "../lib/runEdits";
import { ConfirmButton, Outcome, useAction } from "./Action";

export function RunTags({ run, onChange }: { run: Run; onChange: () => void }) {
  const action = useAction(onChange);
  const [editing, setEditing] = useState<string | null>(null);
  const tags = Object.entries(run.tags).filter(([k]) => userTag(k)).sort(([a], [b]) => a.localeCompare(b));
  const save = async (oldKey: string | null, key: string, value: string): Promise<boolean> => {
    const problem = tagProblem(key, oldKey, run.tags);
    if (problem) {
      return action.run(oldKey ? "Change" : "Add", () => Promise.reject(new Error(problem)));
    }
    return action.run(oldKey ? "Change" : "Add", async () => {
      await runEdits.setTags(run.id, { [key]: value });
      if (oldKey !== null && oldKey !== key) await runEdits.deleteTag(run.id, oldKey); // a renamed key
      return oldKey ? `Tag ${key} saved.` : `Tag ${key} added.`;
    });
  };
  return (
    <div className="run-tags" data-testid="tags">
      {tags.length === 0 && <p className="muted">No tags.</p>}
      {tags.length > 0 && (
        <table className="kv">
          <tbody>
            {tags.map(([k, v]) =>
              editing === k ? (
                <tr key={k}>
                  <td colSpan={3}>
                    <TagForm initialKey={k} initialValue={v} submit="Save" busy={action.busy}
                      onSubmit={async (key, value) => { const ok = await save(k, key, value); if (ok) setEditing(null); return ok; }}
                      onCancel={() => setEditing(null)} />
                  </td>
                </tr>
              ) : (
                <tr key={k} data-testid={"tag-" + k}>
                  <td className="tag-key">{k}</td>
                  <td className="tag-value">{v}</td>
                  <td className="tag-actions">
                    <button className="small" onClick={() => setEditing(k)} aria-label={`Edit tag ${k}`}>Edit</button>
                    <ConfirmButton label="Remove" question={`Remove tag ${k}?`} disabled={action.busy}
                      onConfirm={() => void action.run("Remove", async () => { await runEdits.deleteTag(run.id, k); return `Tag ${k} removed.`; })} />
                  </td>
                </tr>
              ),
            )}
          </tbody>
        </table>
      )}
      <TagForm initialKey="" initialValue="" submit="Add tag" busy={action.busy} clearOnSubmit
        onSubmit={(key, value) => save(null, key, value)} />
      <Outcome action={action} testId="tags" />
    </div>
  );
}

/** Why a tag cannot be saved as asked (empty key, a system key, a key that is taken), or "". */
export function tagProblem(key: string, oldKey: string | null, tags: Record<string, string>): string {
  if (!key.trim()) return "a tag needs a key";
  if (!userTag(key)) return "keys starting with my. or mlflow. are kept by the SDK and MLflow";
  if (key !== oldKey && key in tags) return `there is already a tag ${key}; edit that one`;
  return "";
}

function TagForm({ initialKey, initialValue, submit, busy, onSubmit, onCancel, clearOnSubmit }: {
  initialKey: string;
  initialValue: string;
  submit: string;
  busy: boolean;
  onSubmit: (key: string, value: string) => Promise<boolean>;
  onCancel?: () => void;
  clearOnSubmit?: boolean;
}) {
  const [key, setKey] = useState(initialKey);
  const [value, setValue] = useState(initialValue);
  return (
    <form
      className="row tag-form"
      onSubmit={async (e) => {
        e.preventDefault();
        if ((await onSubmit(key.trim(), value)) && clearOnSubmit) { setKey(""); setValue(""); }
      }}
      onKeyDown={(e) => { if (e.key === "Escape" && onCancel) onCancel(); }}
    >
      <input value={key} onChange={(e) => setKey(e.target.value)} aria-label="Tag key" placeholder="key" maxLength={250} autoFocus={!!onCancel} />
      <input value={value} onChange={(e) => setValue(e.target.value)} aria-label="Tag value" placeholder="value" />
      <button type="submit" disabled={busy || !key.trim()}>{submit}</button>
      {onCancel && <button type="button" onClick={onCancel}>Cancel</button>}
    </form>
  );
}
