/** Light and dark themes: the system's choice until the user picks one (kept in localStorage). */
import { useEffect, useState } from "react";

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
