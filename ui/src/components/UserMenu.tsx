/** The signed-in user's name in the top bar, opening Account, Admin and Audit (admins), Log out. */
import { useEffect, useRef, useState } from "react";
import type { User } from "../lib/access";
import { navigate } from "../lib/route";
import { logout } from "../lib/session";

export function UserMenu({ user }: { user: User }) {
  const [open, setOpen] = useState(false);
  const [error, setError] = useState("");
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const away = (e: MouseEvent) => {
      if (!box.current?.contains(e.target as Node)) setOpen(false);
    };
    const esc = (e: KeyboardEvent) => e.key === "Escape" && setOpen(false);
    document.addEventListener("mousedown", away);
    document.addEventListener("keydown", esc);
    return () => {
      document.removeEventListener("mousedown", away);
      document.removeEventListener("keydown", esc);
    };
  }, [open]);
  const go = (to: string) => {
    setOpen(false);
    navigate(to);
  };
  const items: [string, string][] = [["/account", "Account"]];
  if (user.is_admin) items.push(["/admin", "Admin"], ["/audit", "Audit"]);
  return (
    <div className="popover-anchor user-menu" ref={box}>
      <button aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen(!open)} data-testid="user-menu">
        {user.name}{user.is_admin ? " (admin)" : ""} ▾
      </button>
      {open && (
        <div className="popover menu" role="menu">
          {items.map(([to, label]) => (
            <a key={to} href={to} role="menuitem" onClick={(e) => { e.preventDefault(); go(to); }}>{label}</a>
          ))}
          <button
            role="menuitem"
            onClick={() => {
              setOpen(false);
              logout().catch((err: Error) => setError(err.message));
            }}
          >
            Log out
          </button>
        </div>
      )}
      {error && <span className="error small" role="alert">{error}</span>}
    </div>
  );
}
