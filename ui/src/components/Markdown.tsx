/** Markdown rendered to sanitised HTML (notes, model cards). */
import DOMPurify from "dompurify";
import { marked } from "marked";
import { useMemo, useState } from "react";
import { useLeaveGuard } from "../lib/leave";
import { refusal } from "./Action";

export function Markdown({ text, testId }: { text: string; testId?: string }) {
  const html = useMemo(() => DOMPurify.sanitize(marked.parse(text, { async: false }) as string), [text]);
  return <div className="markdown" data-testid={testId} dangerouslySetInnerHTML={{ __html: html }} />;
}

/** Markdown with an Edit button that turns it into a textarea; saving calls `onSave`. While the
 * draft differs from the text, leaving the page (or cancelling) asks first. */
export function EditableMarkdown({ text, onSave, placeholder, testId }: {
  text: string;
  onSave: (text: string) => Promise<void>;
  placeholder: string;
  testId: string;
}) {
  const [editing, setEditing] = useState(false);
  const [draft, setDraft] = useState(text);
  const [error, setError] = useState("");
  const [saving, setSaving] = useState(false);
  const dirty = editing && draft !== text;
  useLeaveGuard(dirty, "The notes you are editing have unsaved changes.");
  const cancel = () => {
    if (dirty && !window.confirm("Discard your unsaved changes?")) return;
    setEditing(false);
    setError("");
  };
  if (!editing) {
    return (
      <div data-testid={testId}>
        {text ? <Markdown text={text} /> : <p className="muted">{placeholder}</p>}
        <button onClick={() => { setDraft(text); setEditing(true); }}>Edit</button>
      </div>
    );
  }
  const save = async () => {
    setSaving(true);
    try {
      await onSave(draft);
      setEditing(false);
      setError("");
    } catch (err) {
      setError(`Not saved: ${refusal(err)}`);
    } finally {
      setSaving(false);
    }
  };
  return (
    <div data-testid={testId} className="editor">
      <textarea
        value={draft}
        rows={Math.max(6, draft.split("\n").length + 1)}
        onChange={(e) => setDraft(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) void save();
          if (e.key === "Escape") cancel();
        }}
        aria-label="Markdown text"
        autoFocus
      />
      <div className="row">
        <button className="primary" disabled={saving} onClick={() => void save()}>Save</button>
        <button onClick={cancel}>Cancel</button>
        <span className="muted">Markdown; Ctrl+Enter saves</span>
        {dirty && <span className="warn" data-testid={testId + "-unsaved"}>Unsaved changes</span>}
        {error && <span className="error" role="alert">{error}</span>}
      </div>
    </div>
  );
}
