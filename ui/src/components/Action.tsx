/** Changes made from a page: run one, keep its outcome (the server's refusal as it words it),
 * confirm the ones that cannot be undone, and show a secret once. */
import { useRef, useState } from "react";
import { ApiError } from "../lib/api";

export type Action = ReturnType<typeof useAction>;

/** Why a change was refused: the server's code and message (a missing role as a sentence). */
export function refusal(e: unknown): string {
  if (e instanceof ApiError) return e.code === "PERMISSION_DENIED" ? e.message : `${e.code}: ${e.message}`;
  return (e as Error).message;
}

/** Run a change; the outcome of the last one (the server's refusal as it words it: code and message) is kept. */
export function useAction(onDone: () => void = () => {}) {
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<{ ok: boolean; text: string } | null>(null);
  const run = async (what: string, change: () => Promise<string>): Promise<boolean> => {
    setBusy(true);
    setOutcome(null);
    let ok = false;
    try {
      setOutcome({ ok: true, text: await change() });
      ok = true;
    } catch (e) {
      setOutcome({ ok: false, text: `${what} refused: ${refusal(e)}` });
    } finally {
      setBusy(false);
      onDone();
    }
    return ok;
  };
  return { busy, outcome, run };
}

export function Outcome({ action, testId = "action" }: { action: Action; testId?: string }) {
  const o = action.outcome;
  if (!o) return null;
  return o.ok ? (
    <p className="ok" role="status" data-testid={`${testId}-done`}>{o.text}</p>
  ) : (
    <p className="error" role="alert" data-testid={`${testId}-error`}>{o.text}</p>
  );
}

/** A button that asks once more ("Delete alice?" Yes / No) before it acts. */
export function ConfirmButton({ label, question, onConfirm, disabled }: {
  label: string;
  question: string;
  onConfirm: () => void;
  disabled?: boolean;
}) {
  const [asking, setAsking] = useState(false);
  if (!asking) return <button disabled={disabled} onClick={() => setAsking(true)}>{label}</button>;
  return (
    <span className="confirm" role="group" aria-label={question}>
      <span>{question}</span>
      <button className="danger" onClick={() => { setAsking(false); onConfirm(); }}>Yes, {label.toLowerCase()}</button>
      <button onClick={() => setAsking(false)}>No</button>
    </span>
  );
}

/** A new token's secret, shown once: a read-only box, a copy button and a clear warning. */
export function SecretBox({ secret, onDone }: { secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  const box = useRef<HTMLInputElement>(null);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
    } catch {
      box.current?.select(); // no clipboard API (plain http on another host): select it for Ctrl+C
      document.execCommand?.("copy");
    }
    setCopied(true);
  };
  return (
    <div className="secret" role="alert" data-testid="secret">
      <strong>Copy this token now. It is shown only once and cannot be shown again.</strong>
      <div className="row">
        <input readOnly value={secret} ref={box} onFocus={(e) => e.target.select()} aria-label="token secret" data-testid="secret-value" />
        <button onClick={() => void copy()}>{copied ? "Copied" : "Copy"}</button>
        <button onClick={onDone}>Done</button>
      </div>
      <p className="muted small">Use it as <code>MODELYARD_TOKEN</code>, <code>MLFLOW_TRACKING_TOKEN</code> or <code>Authorization: Bearer …</code>.</p>
    </div>
  );
}
