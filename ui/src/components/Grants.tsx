/** Grants: a table of who holds which role on what, and the form that grants one. */
import { useMemo, useState } from "react";
import { api } from "../lib/api";
import { access, GRANT_ROLES, RESOURCE_KINDS, type Grant, type GrantRole, type ResourceKind } from "../lib/access";
import { time } from "../lib/format";
import { useAsync } from "../lib/useAsync";
import { type Action, ConfirmButton } from "./Action";

/** Names to show for objects a grant names by id (experiments): `kind:id` -> name. */
export type Labels = Map<string, string>;

/** Experiments' names, for grants that name them by id. */
export function useLabels(): Labels {
  const experiments = useAsync(() => api.experiments(), []);
  return useMemo(() => new Map((experiments.data ?? []).map((e) => [`experiment:${e.id}`, e.name])), [experiments.data]);
}

function objectText(g: Grant, labels?: Labels): string {
  const name = labels?.get(`${g.resource_kind}:${g.resource}`);
  return name ? `${name} (#${g.resource})` : g.resource;
}

/** A grant's principal without its kind (the server may name it "user:bob" or "bob"). */
export function principalName(g: Grant): string {
  const prefix = `${g.principal_kind}:`;
  return g.principal.startsWith(prefix) ? g.principal.slice(prefix.length) : g.principal;
}

/** Grants as a table: who, on what, which role; `onDelete` adds a delete button per grant. */
export function GrantsTable({ grants, empty, onDelete, busy, labels }: {
  grants: Grant[];
  empty: string;
  onDelete?: (g: Grant) => void;
  busy?: boolean;
  labels?: Labels;
}) {
  if (!grants.length) return <p className="muted">{empty}</p>;
  return (
    <table className="list" data-testid="grants">
      <thead><tr><th>principal</th><th>on</th><th>role</th><th>granted by</th><th>at</th>{onDelete && <th />}</tr></thead>
      <tbody>
        {grants.map((g) => (
          <tr key={g.id} data-grant={g.id}>
            <td><span className="kind">{g.principal_kind}</span>{principalName(g)}</td>
            <td>{g.resource_kind === "server" ? "the whole server" : <><span className="kind">{g.resource_kind}</span>{objectText(g, labels)}</>}</td>
            <td>{g.role}</td>
            <td>{g.granted_by}</td>
            <td>{time(g.granted_at)}</td>
            {onDelete && <td><ConfirmButton label="Delete" question={`Remove ${g.role} of ${principalName(g)}?`} disabled={busy} onConfirm={() => onDelete(g)} /></td>}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/** The objects of a kind to pick from: [id, label]. */
async function objectsOf(kind: ResourceKind): Promise<[string, string][]> {
  switch (kind) {
    case "experiment":
      return (await api.experiments()).map((e) => [String(e.id), e.name]);
    case "model":
      return (await api.models()).models.map((m) => [m.name, m.name]);
    case "dataset":
      return (await api.datasets()).map((d) => [d.name, d.name]);
    case "deployment":
      return (await api.deployments()).deployments.map((d) => [d.name, `${d.name} (${d.model})`]);
    default:
      return [];
  }
}

export type PrincipalKind = "user" | "team" | "token";

/** Grant a role: a principal (a user, a team or a token), an object (or the server) and a role. */
export function GrantForm({ action, principals }: { action: Action; principals: Record<PrincipalKind, [string, string][]> }) {
  const [who, setWho] = useState<PrincipalKind>("user");
  const [principal, setPrincipal] = useState("");
  const [kind, setKind] = useState<ResourceKind>("experiment");
  const [resource, setResource] = useState("");
  const [role, setRole] = useState<GrantRole>("viewer");
  const objects = useAsync(() => objectsOf(kind), [kind]);
  const options = principals[who];
  const picked = principal || options[0]?.[0] || "";
  const grant = () =>
    action.run("Grant", async () => {
      const made = await access.createGrant({ principal: `${who}:${picked}`, kind, resource: kind === "server" ? "" : resource.trim(), role });
      setResource("");
      return `${made.principal_kind} ${principalName(made)} is now ${made.role} on ${made.resource_kind === "server" ? "the server" : `${made.resource_kind} ${made.resource}`}`;
    });
  return (
    <form className="row action-card" data-testid="grant-form" onSubmit={(e) => { e.preventDefault(); void grant(); }}>
      <strong>Grant</strong>
      <select value={who} onChange={(e) => { setWho(e.target.value as PrincipalKind); setPrincipal(""); }} aria-label="principal kind">
        <option value="user">user</option><option value="team">team</option><option value="token">token</option>
      </select>
      <select value={picked} onChange={(e) => setPrincipal(e.target.value)} aria-label="principal">
        {options.map(([id, label]) => <option key={id} value={id}>{label}</option>)}
      </select>
      <span>the role</span>
      <select value={role} onChange={(e) => setRole(e.target.value as GrantRole)} aria-label="role">
        {GRANT_ROLES.map((r) => <option key={r} value={r}>{r}</option>)}
      </select>
      <span>on</span>
      <select value={kind} onChange={(e) => { setKind(e.target.value as ResourceKind); setResource(""); }} aria-label="object kind">
        {RESOURCE_KINDS.map((k) => <option key={k} value={k}>{k === "server" ? "the whole server" : k}</option>)}
      </select>
      {kind !== "server" && (
        <>
          <input list="grant-objects" value={resource} onChange={(e) => setResource(e.target.value)} placeholder={kind === "experiment" ? "experiment id" : `${kind} name`} aria-label="object" required />
          <datalist id="grant-objects">
            {(objects.data ?? []).map(([id, label]) => <option key={id} value={id} label={label} />)}
          </datalist>
        </>
      )}
      <button className="primary" type="submit" disabled={action.busy || !picked || (kind !== "server" && !resource.trim())}>Grant</button>
    </form>
  );
}
