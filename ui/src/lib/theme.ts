/** Light and dark themes: the system's choice until the user picks one (kept in localStorage). */
import { useEffect, useState, useSyncExternalStore } from "react";

export type Theme = "light" | "dark";

function initial(): Theme {
  const saved = localStorage.getItem("modelyard.theme");
  if (saved === "light" || saved === "dark") return saved;
  return window.matchMedia?.("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function useTheme(): [Theme, () => void] {
  const [theme, setTheme] = useState<Theme>(initial);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
  }, [theme]);
  const toggle = () => {
    const next = theme === "dark" ? "light" : "dark";
    localStorage.setItem("modelyard.theme", next);
    setTheme(next);
  };
  return [theme, toggle];
}

export function isDark(): boolean {
  return document.documentElement.dataset.theme === "dark";
}

function onThemeChange(fn: () => void): () => void {
  const watch = new MutationObserver(fn);
  watch.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  return () => watch.disconnect();
}

/** Whether the dark theme is on, re-rendering when it is toggled (charts restyle with it). */
export function useDark(): boolean {
  return useSyncExternalStore(onThemeChange, isDark);
}
