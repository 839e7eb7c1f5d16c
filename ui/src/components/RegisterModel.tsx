/** Register a model a run logged as a new version: the model folder at an artifact path, or an
 * MLflow 3 logged model (a button and a dialog: the model's name, completed from the existing
 * ones, and a description). */
import { useEffect, useRef, useState, type ReactNode } from "react";
import { api, type ModelVersion } from "../lib/api";
import { navigate } from "../lib/route";
import { registry } from "../lib/registry";
import { refusal } from "./Action";
import "./registry.css";

export function RegisterModel({ runId, path }: { runId: string; path: string }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button onClick={() => setOpen(true)} data-testid="register-model">Register model</button>
      {open && (
        <RegisterDialog
          title={<>Register <code>{path || "the run's artifacts"}</code></>}
          register={(name, description) => registry.registerFromRun(name, runId, path, description)}
          onClose={() => setOpen(false)}
        />
      )}
    </>
  );
}

/** Register an MLflow 3 logged model (`models:/<id>`) as a new version. */
export function RegisterLoggedModel({ modelId, label }: { modelId: string; label: string }) {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button onClick={() => setOpen(true)} aria-label={`register ${label}`} data-testid="register-logged-model">Register</button>
      {open && (
        <RegisterDialog
          title={<>Register logged model <code>{label}</code></>}
          register={(name, description) => registry.registerLoggedModel(name, modelId, description)}
          onClose={() => setOpen(false)}
        />
      )}
    </>
  );
}

function RegisterDialog({ title, register, onClose }: {
  title: ReactNode;
  register: (name: string, description: string) => Promise<ModelVersion>;
  onClose: () => void;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const [names, setNames] = useState<string[]>([]);
  const [name, setName] = useState("");
  const [description, setDescription] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState("");
  useEffect(() => {
    if (ref.current && !ref.current.open) ref.current.showModal();
    api.models().then((r) => setNames(r.models.map((m) => m.name))).catch(() => setNames([]));
  }, []);
  const exists = names.includes(name.trim());
  const submit = async () => {
    setBusy(true);
    setError("");
    try {
      const v = await register(name.trim(), description);
      onClose();
      navigate(`/models/${encodeURIComponent(v.name)}/versions/${v.version}`);
    } catch (e) {
      setError(refusal(e));
      setBusy(false);
    }
  };
  const listId = "register-model-names";
  return (
    <dialog ref={ref} className="reason-dialog" aria-labelledby="register-title" data-testid="register-dialog" onCancel={(e) => { e.preventDefault(); onClose(); }}>
      <form method="dialog" onSubmit={(e) => { e.preventDefault(); if (name.trim() && !busy) void submit(); }}>
        <h2 id="register-title">{title}</h2>
        <label className="field">
          <span>Model name</span>
          <input value={name} onChange={(e) => setName(e.target.value)} list={listId} autoFocus required data-testid="register-name" />
          <datalist id={listId}>{names.map((n) => <option key={n} value={n} />)}</datalist>
        </label>
        <p className="muted small">{name.trim() ? (exists ? `A new version of ${name.trim()}.` : `A new model ${name.trim()}, version 1.`) : "An existing model's name adds a version to it."}</p>
        <label className="field">
          <span>Description</span>
          <textarea rows={3} value={description} onChange={(e) => setDescription(e.target.value)} data-testid="register-description" />
        </label>
        {error && <p className="error" role="alert" data-testid="register-error">{error}</p>}
        <div className="row end">
          <button type="button" onClick={onClose}>Cancel</button>
          <button type="submit" className="primary" disabled={!name.trim() || busy}>{busy ? "Registering…" : "Register"}</button>
        </div>
      </form>
    </dialog>
  );
}

/** The register button for an artifact folder that holds a model (an MLflow `MLmodel` or a
 * modelyard package's `modelyard.json`); nothing for any other folder. */
export function RegisterModelHere({ runId, dir, entries }: { runId: string; dir: string; entries: { path: string; is_dir: boolean }[] | undefined }) {
  const holdsModel = (entries ?? []).some((a) => !a.is_dir && (a.path === "MLmodel" || a.path === "modelyard.json"));
  if (!holdsModel) return null;
  return (
    <div className="manage" data-testid="model-folder">
      <span className="muted small">This folder holds a model.</span>
      <RegisterModel runId={runId} path={dir} />
    </div>
  );
}
