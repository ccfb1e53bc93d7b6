import { fireEvent, render, screen } from "@testing-library/preact";
import { describe, expect, it, vi } from "vitest";
import { ShortcutHelp } from "../components/ShortcutHelp";
import { is, SHORTCUTS, useShortcuts } from "./shortcuts";

const key = (init: KeyboardEventInit, target?: HTMLElement) => {
  const e = new KeyboardEvent("keydown", init);
  if (target) Object.defineProperty(e, "target", { value: target });
  return e;
};

describe("shortcut registry", () => {
  it("matches each shortcut by its keys, and letters not while typing", () => {
    expect(is(key({ key: "k", ctrlKey: true }), "palette")).toBe(true);
    expect(is(key({ key: "K", metaKey: true }), "palette")).toBe(true);
    expect(is(key({ key: "k" }), "palette")).toBe(false);
    expect(is(key({ key: "?" }), "help")).toBe(true);
    expect(is(key({ key: "j" }), "down")).toBe(true);
    expect(is(key({ key: "j" }, document.createElement("input")), "down")).toBe(false);
    expect(is(key({ key: "ArrowDown" }, document.createElement("input")), "down")).toBe(true);
    expect(is(key({ key: "r", ctrlKey: true }), "runbooks")).toBe(false);
  });

  it("has one entry per id, each with keys, a place and a purpose", () => {
    const ids = SHORTCUTS.map((s) => s.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const s of SHORTCUTS) expect(s.keys.length > 0 && s.does.length > 0).toBe(true);
  });

  it("calls the newest handler once, and lets a key go on when the handler declines", () => {
    const palette = vi.fn();
    const back = vi.fn(() => false as const);
    function Page() {
      useShortcuts({ palette, back });
      return null;
    }
    render(<Page />);
    const ctrlK = new KeyboardEvent("keydown", { key: "k", ctrlKey: true, cancelable: true });
    window.dispatchEvent(ctrlK);
    expect(palette).toHaveBeenCalledTimes(1);
    expect(ctrlK.defaultPrevented).toBe(true);
    const esc = new KeyboardEvent("keydown", { key: "Escape", cancelable: true });
    window.dispatchEvent(esc);
    expect(back).toHaveBeenCalledTimes(1);
    expect(esc.defaultPrevented).toBe(false);
  });

  it("lists every shortcut in the ? help, which Escape closes", () => {
    const onClose = vi.fn();
    render(<ShortcutHelp onClose={onClose} />);
    expect(screen.getByRole("dialog", { name: "Keyboard shortcuts" })).toBeTruthy();
    for (const s of SHORTCUTS) expect(document.querySelector(`[data-shortcut='${s.id}']`)).not.toBeNull();
    fireEvent.keyDown(window, { key: "Escape" });
    expect(onClose).toHaveBeenCalled();
  });
});
