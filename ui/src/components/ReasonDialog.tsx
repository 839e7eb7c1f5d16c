/** A small modal dialog that asks why before a registry change is written (the reason goes
 * to the model's history), runs it, and shows the server's refusal readably. */
import { useEffect, useRef, useState, type ReactNode } from "react";
import { refusal } from "./Action";
import "./registry.css";

export function ReasonDialog({ title, children, onSubmit, onClose, submitLabel = "Save", valid = true }: {
  title: string;
  /** the fields of the change (the reason field is added below them) */
  children?: ReactNode;
  /** write the change with this reason; a rejection is shown in the dialog */
  onSubmit: (reason: string) => Promise<unknown>;
  onClose: (done: boolean) => void;
  submitLabel?: string;
  valid?: boolean;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [reason, setReason] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  useEffect(() => {
    const d = ref.current;
    if (d && !d.open) d.showModal(); // Escape closes it (the "cancel" event below)
  }, []);
  const submit = async () => {
    setBusy(true);
    setError("");
    try {
      await onSubmit(reason.trim());
      onClose(true);
    } catch (e) {
      setError(refusal(e));
      setBusy(false);
    }
  };
  return (
    <dialog
      ref={ref}
      className="reason-dialog"
      aria-labelledby="reason-dialog-title"
      data-testid="reason-dialog"
      onCancel={(e) => {
        e.preventDefault();
        onClose(false);
      }}
    >
      <form
        method="dialog"
        onSubmit={(e) => {
          e.preventDefault();
          if (valid && !busy) void submit();
        }}
      >
        <h2 id="reason-dialog-title">{title}</h2>
        {children}
        <label className="field">
          <span>Reason <span className="muted">(kept in the model's history)</span></span>
          <textarea value={reason} onChange={(e) => setReason(e.target.value)} rows={2} data-testid="reason" />
        </label>
        {error && <p className="error" role="alert" data-testid="dialog-error">{error}</p>}
        <div className="row end">
          <button type="button" onClick={() => onClose(false)}>Cancel</button>
          <button type="submit" className="primary" disabled={!valid || busy}>{busy ? "Saving…" : submitLabel}</button>
        </div>
      </form>
    </dialog>
  );
}
