/** Saved views of an experiment's runs page: a menu of named query strings stored on the server
 * (pick one to open it), "Save view as…" for the page as it is, rename, delete, and a link to
 * share (`/experiments/{id}?view={view id}`, which this component resolves when opened). */
import { useEffect, useRef, useState } from "react";
import { activeView, savedViews, viewHref, viewLink, viewQuery, type SavedView } from "../lib/savedViews";
import { navigate, useLocation, useQueryParam } from "../lib/route";
import { useAsync } from "../lib/useAsync";
import { ConfirmButton, Outcome, refusal, useAction } from "./Action";
import "./savedViews.css";

export function SavedViews({ experimentId }: { experimentId: number }) {
  const views = useAsync((signal) => savedViews.list(experimentId, signal), [experimentId]);
  const action = useAction(views.reload);
  const { query } = useLocation();
  const [open, setOpen] = useState(false);
  const problem = useViewLink(experimentId);
  const anchor = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const onDown = (e: MouseEvent) => {
      if (anchor.current && !anchor.current.contains(e.target as Node)) setOpen(false);
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== "Escape" || e.defaultPrevented) return;
      setOpen(false);
      anchor.current?.querySelector<HTMLButtonElement>("button.views-button")?.focus();
    };
    document.addEventListener("mousedown", onDown);
    document.addEventListener("keydown", onKey);
    return () => {
      document.removeEventListener("mousedown", onDown);
      document.removeEventListener("keydown", onKey);
    };
  }, [open]);
  const list = views.data ?? [];
  const active = activeView(list, query.toString());
  return (
    <div className="popover-anchor saved-views" ref={anchor}>
      <button className="views-button" onClick={() => setOpen(!open)} aria-expanded={open} aria-haspopup="true" data-testid="views-button">
        View: {active ? <strong>{active.name}</strong> : <span className="muted">unsaved</span>} ▾
      </button>
      {problem && <span className="error small" role="alert" data-testid="view-link-error">{problem}</span>}
      {open && (
        <div className="popover views-menu" data-testid="views-menu" role="dialog" aria-label="Saved views">
          {views.error && <p className="error" role="alert">Saved views could not be read: {refusal(views.error)}</p>}
          {views.data && list.length === 0 && <p className="muted">No saved views yet. Save this page's filter, columns, sort and grouping under a name.</p>}
          {list.length > 0 && (
            <ul className="views-list">
              {list.map((v) => (
                <ViewRow key={v.id} view={v} active={v.id === active?.id} experimentId={experimentId} action={action} onOpen={() => setOpen(false)} />
              ))}
            </ul>
          )}
          <SaveAs experimentId={experimentId} action={action} active={active} />
          <Outcome action={action} testId="views" />
        </div>
      )}
    </div>
  );
}

/** `?view=<id>` in the URL: replace it with the view's query string (or say why not). */
function useViewLink(experimentId: number): string {
  const [viewParam] = useQueryParam("view");
  const [problem, setProblem] = useState("");
  useEffect(() => {
    if (!viewParam) return;
    const id = Number(viewParam);
    if (!Number.isInteger(id) || id <= 0) {
      setProblem(`“${viewParam}” is not a saved view's id.`);
      return;
    }
    let gone = false;
    setProblem("");
    savedViews
      .get(experimentId, id)
      .then((v) => { if (!gone) navigate(viewHref(experimentId, v.query), true); })
      .catch((e) => { if (!gone) setProblem(`Saved view ${id} could not be opened: ${refusal(e)}`); });
    return () => { gone = true; };
  }, [experimentId, viewParam]);
  return viewParam ? problem : "";
}

function ViewRow({ view, active, experimentId, action, onOpen }: {
  view: SavedView;
  active: boolean;
  experimentId: number;
  action: ReturnType<typeof useAction>;
  onOpen: () => void;
}) {
  const [renaming, setRenaming] = useState<string | null>(null);
  const [copied, setCopied] = useState("");
  const to = viewHref(experimentId, view.query);
  if (renaming !== null) {
    return (
      <li className="view-row">
        <form
          className="row"
          onSubmit={async (e) => {
            e.preventDefault();
            const name = renaming.trim();
            if (!name || name === view.name) return setRenaming(null);
            const ok = await action.run("Rename", async () => { await savedViews.update(experimentId, view.id, { name }); return `Renamed to “${name}”.`; });
            if (ok) setRenaming(null);
          }}
        >
          <input value={renaming} onChange={(e) => setRenaming(e.target.value)} aria-label={`New name for ${view.name}`} maxLength={200} autoFocus
            onKeyDown={(e) => { if (e.key === "Escape") { e.preventDefault(); setRenaming(null); } }} />
          <button type="submit" className="primary" disabled={action.busy}>Save</button>
          <button type="button" onClick={() => setRenaming(null)}>Cancel</button>
        </form>
      </li>
    );
  }
  const copy = async () => {
    const link = viewLink(experimentId, view.id);
    try {
      await navigator.clipboard.writeText(link);
    } catch {
      /* no clipboard (plain http on another host): the link is shown to copy by hand */
    }
    setCopied(link);
  };
  return (
    <li className={"view-row" + (active ? " active" : "")} data-testid={`view-${view.name}`}>
      <a
        href={to}
        className="view-name"
        title={`${view.name} (saved by ${view.owner})`}
        aria-current={active ? "true" : undefined}
        onClick={(e) => {
          if (e.ctrlKey || e.metaKey || e.shiftKey || e.button !== 0) return;
          e.preventDefault();
          onOpen();
          navigate(to);
        }}
      >
        {view.name}
      </a>
      <span className="view-actions">
        <button className="small" onClick={() => void copy()} aria-label={`Copy link to ${view.name}`}>Copy link</button>
        <button className="small" onClick={() => setRenaming(view.name)} aria-label={`Rename ${view.name}`}>Rename</button>
        <ConfirmButton label="Delete" question={`Delete view ${view.name}?`} disabled={action.busy}
          onConfirm={() => void action.run("Delete", async () => { await savedViews.remove(experimentId, view.id); return `View “${view.name}” deleted.`; })} />
      </span>
      {copied && (
        <span className="copied row" role="status">
          Link copied: <input readOnly value={copied} aria-label={`Link to ${view.name}`} onFocus={(e) => e.target.select()} data-testid="view-link" />
        </span>
      )}
    </li>
  );
}

function SaveAs({ experimentId, action, active }: { experimentId: number; action: ReturnType<typeof useAction>; active: SavedView | undefined }) {
  const [name, setName] = useState("");
  const save = async () => {
    const clean = name.trim();
    const query = viewQuery(window.location.search);
    const ok = await action.run("Save view", async () => {
      const made = await savedViews.create(experimentId, clean, query);
      return `Saved as “${made.name}”.`;
    });
    if (ok) setName("");
  };
  return (
    <form className="save-as" onSubmit={(e) => { e.preventDefault(); void save(); }}>
      <label>
        Save view as…
        <input value={name} onChange={(e) => setName(e.target.value)} placeholder={active ? `a copy of ${active.name}` : "name of this view"} maxLength={200} data-testid="view-name" />
      </label>
      <button type="submit" className="primary" disabled={action.busy || !name.trim()}>Save</button>
    </form>
  );
}
