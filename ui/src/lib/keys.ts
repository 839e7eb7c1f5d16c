/** Page shortcuts that never take a key from a focused control. */

const CONTROLS = [
  "a[href]", "button", "input", "select", "textarea", "summary", "[contenteditable]:not([contenteditable='false'])",
  "[role=button]", "[role=link]", "[role=checkbox]", "[role=menuitem]", "[role=option]", "[role=tab]",
  "[role=switch]", "[role=textbox]", "[role=combobox]", "[role=slider]", "[role=spinbutton]", "[role=separator][tabindex]",
].join(", ");

/** True when a key pressed here belongs to the control itself (Enter follows a link, Space
 * presses a button, letters type), so a page shortcut must leave it alone. */
export function isControl(target: EventTarget | null): boolean {
  return target instanceof Element && target.closest(CONTROLS) !== null;
}

/** True when a keydown may be read as a page shortcut: no control has it and no modifier is held. */
export function isShortcut(e: KeyboardEvent): boolean {
  return !e.defaultPrevented && !e.ctrlKey && !e.metaKey && !e.altKey && !isControl(e.target) && !isControl(document.activeElement);
}
