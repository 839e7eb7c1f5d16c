/** Unsaved changes: a page that holds some keeps the user from leaving it by accident
 * (closing the tab, reloading, an in-app link, the Back button) unless they confirm. */
import { useEffect } from "react";

const holders = new Map<symbol, string>();

/** Whether the app may leave the current page: true when nothing is unsaved, else the user's
 * answer to a confirm dialog naming what would be lost. Called by lib/route before it moves. */
export function mayLeave(): boolean {
  if (holders.size === 0) return true;
  const what = [...holders.values()][0];
  if (!window.confirm(`${what}\n\nLeave this page and lose them?`)) return false;
  holders.clear(); // the user chose to drop them: the page unmounting must not ask again
  return true;
}

function onBeforeUnload(e: BeforeUnloadEvent) {
  if (holders.size === 0) return;
  e.preventDefault();
  e.returnValue = ""; // the browser shows its own "Leave site?" dialog
}

/** While `dirty`, leaving the page asks first; `message` says what would be lost. */
export function useLeaveGuard(dirty: boolean, message = "You have unsaved changes."): void {
  useEffect(() => {
    if (!dirty) return;
    const key = Symbol(message);
    holders.set(key, message);
    window.addEventListener("beforeunload", onBeforeUnload);
    return () => {
      holders.delete(key);
      if (holders.size === 0) window.removeEventListener("beforeunload", onBeforeUnload);
    };
  }, [dirty, message]);
}
