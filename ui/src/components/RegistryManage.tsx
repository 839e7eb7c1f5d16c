/** Managing a registered model and its versions from the page: description, tags, aliases and
 * stage; every change asks for a reason (kept in the model's history) in a small dialog. */
import { useState, type ReactNode } from "react";
import type { ModelVersion, RegisteredModel } from "../lib/api";
import { registry } from "../lib/registry";
import { ReasonDialog } from "./ReasonDialog";

const STAGES = ["None", "Staging", "Production", "Archived", "Retired"];

type Open = null | { title: string; submit: string; body: (set: (v: Record<string, string>) => void, values: Record<string, string>) => ReactNode; initial: Record<string, string>; valid: (v: Record<string, string>) => boolean; run: (v: Record<string, string>, reason: string) => Promise<unknown> };

/** A dialog asked for by one of the buttons below: its fields, its check and its write. */
function useDialog(onDone: () => void) {
  const [open, setOpen] = useState<Open>(null);
  const [values, setValues] = useState<Record<string, string>>({});
  const ask = (spec: NonNullable<Open>) => {
    setValues(spec.initial);
    setOpen(spec);
  };
  const dialog = open && (
    <ReasonDialog
      title={open.title}
      submitLabel={open.submit}
      valid={open.valid(values)}
      onSubmit={(reason) => open.run(values, reason)}
      onClose={(done) => {
        setOpen(null);
        if (done) onDone();
      }}
    >
      {open.body((v) => setValues((old) => ({ ...old, ...v })), values)}
    </ReasonDialog>
  );
  return { ask, dialog };
}

function Field({ label, children }: { label: string; children: ReactNode }) {
  return <label className="field"><span>{label}</span>{children}</label>;
}

export function TagList({ tags, onDelete }: { tags: Record<string, string>; onDelete?: (key: string) => void }) {
  const entries = Object.entries(tags);
  if (entries.length === 0) return <span className="muted">no tags</span>;
  return (
    <span className="tag-list" data-testid="tags">
      {entries.map(([k, v]) => (
        <span key={k} className="badge">
          {k}={v}
          {onDelete && <button type="button" aria-label={`remove tag ${k}`} title={`remove tag ${k}`} onClick={() => onDelete(k)}>×</button>}
        </span>
      ))}
    </span>
  );
}

const tagFields = (set: (v: Record<string, string>) => void, v: Record<string, string>) => (
  <>
    <Field label="Key"><input value={v.key ?? ""} onChange={(e) => set({ key: e.target.value })} autoFocus data-testid="tag-key" /></Field>
    <Field label="Value"><input value={v.value ?? ""} onChange={(e) => set({ value: e.target.value })} data-testid="tag-value" /></Field>
  </>
);

const descriptionField = (set: (v: Record<string, string>) => void, v: Record<string, string>) => (
  <Field label="Description"><textarea rows={4} value={v.description ?? ""} onChange={(e) => set({ description: e.target.value })} autoFocus data-testid="description" /></Field>
);

/** Description, tags and aliases of a model. */
export function ModelManage({ model, versions, onChange }: { model: RegisteredModel; versions: ModelVersion[]; onChange: () => void }) {
  const { ask, dialog } = useDialog(onChange);
  const name = model.name;
  return (
    <div className="manage-block" data-testid="model-manage">
      <div className="manage">
        <b>Tags</b>
        <TagList tags={model.tags} onDelete={(key) => ask({
          title: `Remove tag ${key} from ${name}`, submit: "Remove", initial: {}, valid: () => true, body: () => null,
          run: (_v, reason) => registry.deleteModelTag(name, key, reason),
        })} />
        <button onClick={() => ask({
          title: `Add a tag to ${name}`, submit: "Set tag", initial: { key: "", value: "" }, body: tagFields, valid: (v) => !!v.key?.trim(),
          run: (v, reason) => registry.setModelTag(name, v.key.trim(), v.value ?? "", reason),
        })}>Add tag</button>
        <button onClick={() => ask({
          title: `Description of ${name}`, submit: "Save", initial: { description: model.description }, body: descriptionField, valid: () => true,
          run: (v, reason) => registry.describeModel(name, v.description ?? "", reason),
        })}>Edit description</button>
      </div>
      <div className="manage">
        <b>Aliases</b>
        {Object.entries(model.aliases).map(([alias, v]) => (
          <span key={alias} className="badge">
            {alias} → v{v}
            <button type="button" className="link" aria-label={`move alias ${alias}`} onClick={() => ask(aliasSpec(name, versions, alias, v))}>move</button>
            <button type="button" className="link" aria-label={`remove alias ${alias}`} onClick={() => ask({
              title: `Remove alias ${alias} (v${v})`, submit: "Remove", initial: {}, valid: () => true, body: () => null,
              run: (_v, reason) => registry.deleteAlias(name, alias, reason),
            })}>×</button>
          </span>
        ))}
        <button onClick={() => ask(aliasSpec(name, versions, "", versions[0]?.version ?? 1))} disabled={versions.length === 0}>Set alias</button>
      </div>
      {dialog}
    </div>
  );
}

function aliasSpec(name: string, versions: ModelVersion[], alias: string, version: number): NonNullable<Open> {
  return {
    title: alias ? `Move alias ${alias}` : `Point an alias at a version of ${name}`,
    submit: alias ? "Move" : "Set alias",
    initial: { alias, version: String(version) },
    valid: (v) => !!v.alias?.trim() && !!v.version,
    body: (set, v) => (
      <>
        <Field label="Alias"><input value={v.alias ?? ""} onChange={(e) => set({ alias: e.target.value })} readOnly={!!alias} autoFocus={!alias} data-testid="alias-name" /></Field>
        <Field label="Version">
          <select value={v.version} onChange={(e) => set({ version: e.target.value })} data-testid="alias-version">
            {versions.map((x) => <option key={x.version} value={x.version}>v{x.version}{x.aliases.length ? ` (${x.aliases.join(", ")})` : ""}</option>)}
          </select>
        </Field>
      </>
    ),
    run: (v, reason) => registry.setAlias(name, v.alias.trim(), Number(v.version), reason),
  };
}

/** Stage, description, tags and aliases of one version. */
export function VersionManage({ version, versions, onChange }: { version: ModelVersion; versions: ModelVersion[]; onChange: () => void }) {
  const { ask, dialog } = useDialog(onChange);
  const { name, version: n } = version;
  return (
    <div className="manage-block" data-testid="version-manage">
      <div className="manage">
        <button onClick={() => ask({
          title: `Stage of ${name} v${n}`, submit: "Change stage", initial: { stage: version.stage, archive: "" },
          valid: (v) => v.stage !== version.stage,
          body: (set, v) => (
            <>
              <Field label="Stage">
                <select value={v.stage} onChange={(e) => set({ stage: e.target.value })} autoFocus data-testid="stage">
                  {STAGES.map((s) => <option key={s} value={s}>{s}</option>)}
                </select>
              </Field>
              <label><input type="checkbox" checked={v.archive === "1"} onChange={(e) => set({ archive: e.target.checked ? "1" : "" })} /> archive the other versions in this stage</label>
              <p className="muted small">Changing a stage needs the maintainer role on the model.</p>
            </>
          ),
          run: (v, reason) => registry.updateVersion(name, n, { stage: v.stage, archive_others: v.archive === "1" }, reason),
        })}>Change stage</button>
        <button onClick={() => ask({
          title: `Description of ${name} v${n}`, submit: "Save", initial: { description: version.description }, body: descriptionField, valid: () => true,
          run: (v, reason) => registry.updateVersion(name, n, { description: v.description ?? "" }, reason),
        })}>Edit description</button>
        <button onClick={() => ask(aliasSpec(name, versions, "", n))}>Set alias</button>
        {version.aliases.map((alias) => (
          <button key={alias} onClick={() => ask({
            title: `Remove alias ${alias} (v${n})`, submit: "Remove", initial: {}, valid: () => true, body: () => null,
            run: (_v, reason) => registry.deleteAlias(name, alias, reason),
          })}>Remove alias {alias}</button>
        ))}
      </div>
      <div className="manage">
        <b>Tags</b>
        <TagList tags={version.tags} onDelete={(key) => ask({
          title: `Remove tag ${key} from v${n}`, submit: "Remove", initial: {}, valid: () => true, body: () => null,
          run: (_v, reason) => registry.deleteVersionTag(name, n, key, reason),
        })} />
        <button onClick={() => ask({
          title: `Add a tag to ${name} v${n}`, submit: "Set tag", initial: { key: "", value: "" }, body: tagFields, valid: (v) => !!v.key?.trim(),
          run: (v, reason) => registry.setVersionTag(name, n, v.key.trim(), v.value ?? "", reason),
        })}>Add tag</button>
      </div>
      {dialog}
    </div>
  );
}
