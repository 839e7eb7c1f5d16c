/** The audit log (server admins): every write, who made it, from where, what changed; the chain's
 * verification and exports. Filters live in the address, so a link shows the same records. */
import { Fragment, useState } from "react";
import { access, changeRows, shown, type AuditPage as Page, type AuditQuery, type AuditRecord, type Verification } from "../lib/access";
import { time } from "../lib/format";
import { useQueryParam } from "../lib/route";
import { useAsync } from "../lib/useAsync";

const PAGE = 100;

/** A `datetime-local` value (local time) as ms since the epoch; null when empty or invalid. */
export function localMs(text: string): number | null {
  if (!text) return null;
  const ms = new Date(text).getTime();
  return Number.isFinite(ms) ? ms : null;
}

export function AuditPage() {
  const [actor, setActor] = useQueryParam("actor");
  const [objectKind, setObjectKind] = useQueryParam("object_kind");
  const [objectId, setObjectId] = useQueryParam("object_id");
  const [action, setAction] = useQueryParam("action");
  const [since, setSince] = useQueryParam("since");
  const [until, setUntil] = useQueryParam("until");
  const [order, setOrder] = useQueryParam("order", "desc");
  const newest = order !== "asc";
  const query: AuditQuery = { actor, object_kind: objectKind, object_id: objectId, action, since: localMs(since), until: localMs(until), order: newest ? "desc" : "asc" };
  const key = JSON.stringify(query);
  const first = useAsync((signal) => access.audit({ ...query, limit: PAGE }, signal), [key]);
  const [more, setMore] = useState<{ base: unknown; records: AuditRecord[]; next: number | null }>();
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState("");
  const extra = more && more.base === first.data ? more : undefined;
  const records = [...(first.data?.records ?? []), ...(extra?.records ?? [])];
  const nextOf = (page: Page | undefined) => (newest ? page?.next_before_seq : page?.next_after_seq) ?? null;
  const next = extra ? extra.next : nextOf(first.data);
  const loadMore = async () => {
    if (next === null) return;
    setLoadingMore(true);
    setMoreError("");
    try {
      const page = await access.audit({ ...query, limit: PAGE, ...(newest ? { before_seq: next } : { after_seq: next }) });
      setMore({ base: first.data, records: [...(extra?.records ?? []), ...page.records], next: nextOf(page) });
    } catch (err) {
      setMoreError((err as Error).message);
    } finally {
      setLoadingMore(false);
    }
  };
  return (
    <section className="main audit">
      <header className="page-head">
        <h1>Audit log</h1>
        <span className="muted">every write, append-only and hash-chained</span>
        <span className="spacer" />
        <a className="button" href={access.exportUrl("jsonl", query)} download data-testid="export-jsonl">Export JSON Lines</a>
        <a className="button" href={access.exportUrl("csv", query)} download data-testid="export-csv">Export CSV</a>
      </header>
      <Verify />
      <div className="row filters" data-testid="audit-filters">
        <input value={actor} onChange={(e) => setActor(e.target.value)} placeholder="actor" aria-label="actor" />
        <input value={objectKind} onChange={(e) => setObjectKind(e.target.value)} placeholder="object kind" aria-label="object kind" />
        <input value={objectId} onChange={(e) => setObjectId(e.target.value)} placeholder="object id" aria-label="object id" />
        <input value={action} onChange={(e) => setAction(e.target.value)} placeholder="action" aria-label="action" />
        <label>from <input type="datetime-local" value={since} onChange={(e) => setSince(e.target.value)} aria-label="since" /></label>
        <label>to <input type="datetime-local" value={until} onChange={(e) => setUntil(e.target.value)} aria-label="until" /></label>
        <select value={newest ? "desc" : "asc"} onChange={(e) => setOrder(e.target.value)} aria-label="order">
          <option value="desc">newest first</option>
          <option value="asc">oldest first</option>
        </select>
      </div>
      {first.error && <p className="error" role="alert">{first.error.message}</p>}
      <table className="list audit-records" data-testid="audit">
        <thead><tr><th>#</th><th>time</th><th>actor</th><th>address</th><th>action</th><th>object</th><th>status</th><th /></tr></thead>
        <tbody>{records.map((r) => <Row key={r.seq} r={r} />)}</tbody>
      </table>
      {first.data && records.length === 0 && <p className="muted">No records match.</p>}
      {moreError && <p className="error" role="alert">{moreError}</p>}
      <div className="row">
        {next !== null && <button onClick={() => void loadMore()} disabled={loadingMore} data-testid="load-more">{loadingMore ? "Loading…" : "Load more"}</button>}
        <span className="muted small">{records.length} records shown</span>
      </div>
    </section>
  );
}

function statusClass(status: number): string {
  return status >= 500 ? "bad" : status >= 400 ? "warn" : "ok";
}

function Row({ r }: { r: AuditRecord }) {
  const [open, setOpen] = useState(false);
  const changed = changeRows(r.changes).filter((c) => shown(c.before) !== shown(c.after)).length;
  return (
    <Fragment>
      <tr data-seq={r.seq} className={open ? "open" : ""}>
        <td className="num">{r.seq}</td>
        <td>{time(r.at)}</td>
        <td>{r.actor}<span className="muted small"> {r.actor_kind}{r.token_id ? ` ${r.token_id}` : ""}</span></td>
        <td><code>{r.address}</code></td>
        <td><code>{r.action}</code></td>
        <td>{r.object_kind && <span className="kind">{r.object_kind}</span>}{r.object_id}</td>
        <td className={statusClass(r.status)}>{r.status}</td>
        <td><button className="link" onClick={() => setOpen(!open)} aria-expanded={open}>{open ? "hide" : changed ? `changes (${changed})` : "details"}</button></td>
      </tr>
      {open && (
        <tr className="changes-row">
          <td />
          <td colSpan={7}>
            <Changes r={r} />
          </td>
        </tr>
      )}
    </Fragment>
  );
}

/** What a write changed, as a diff: each field's value before (red) and after (green). */
function Changes({ r }: { r: AuditRecord }) {
  const rows = changeRows(r.changes);
  return (
    <div data-testid="changes">
      {rows.length === 0 ? <p className="muted small">No recorded changes.</p> : (
        <table className="diff changes">
          <thead><tr><th>field</th><th>before</th><th>after</th></tr></thead>
          <tbody>
            {rows.map((c, i) => (
              <tr key={c.key + i} className={shown(c.before) === shown(c.after) ? "same" : "changed"}>
                <th>{c.key || "value"}</th>
                <td className="del">{c.before === undefined ? <span className="muted">—</span> : <pre>{shown(c.before)}</pre>}</td>
                <td className="ins">{c.after === undefined ? <span className="muted">—</span> : <pre>{shown(c.after)}</pre>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <p className="muted small">hash <code>{r.hash}</code> · follows <code>{r.prev_hash}</code></p>
    </div>
  );
}

function Verify() {
  const [result, setResult] = useState<Verification | null>(null);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const verify = async () => {
    setBusy(true);
    setError("");
    setResult(null);
    try {
      setResult(await access.verify());
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="verify row" data-testid="verify">
      <button onClick={() => void verify()} disabled={busy}>{busy ? "Verifying…" : "Verify the chain"}</button>
      {result?.ok && (
        <span className="ok" role="status">
          Chain intact: {result.records.toLocaleString("en-US")} records (head #{result.head_seq}, <code title={result.head_hash}>{result.head_hash.slice(0, 12)}</code>)
        </span>
      )}
      {result && !result.ok && (
        <div className="error" role="alert">
          <strong>The chain is broken: {result.problems.length} {result.problems.length === 1 ? "problem" : "problems"} in {result.records.toLocaleString("en-US")} records</strong>
          <ul>{result.problems.map((p, i) => <li key={i}>{p.seq !== null ? `#${p.seq} ` : ""}{p.kind}: {p.message}</li>)}</ul>
        </div>
      )}
      {error && <span className="error" role="alert">{error}</span>}
    </div>
  );
}
