import { fireEvent, render, screen, waitFor } from "@testing-library/preact";
import { useState } from "preact/hooks";
import { describe, expect, it } from "vitest";
import { Modal } from "./Modal";
import { Palette } from "./Palette";

function Page() {
  const [open, setOpen] = useState(false);
  return (
    <div>
      <button onClick={() => setOpen(true)}>Open</button>
      <button>Elsewhere</button>
      {open && (
        <Modal class="dialog" label="Test dialog" onClose={() => setOpen(false)}>
          <button>First</button>
          <input aria-label="Middle" />
          <button onClick={() => setOpen(false)}>Last</button>
        </Modal>
      )}
    </div>
  );
}

describe("Modal", () => {
  it("is a labelled modal dialog that takes focus, traps Tab and gives focus back on close", () => {
    render(<Page />);
    const opener = screen.getByText("Open");
    opener.focus();
    fireEvent.click(opener);
    const dialog = screen.getByRole("dialog", { name: "Test dialog" });
    expect(dialog.getAttribute("aria-modal")).toBe("true");
    expect(document.activeElement).toBe(screen.getByText("First"));

    screen.getByText("Last").focus();
    fireEvent.keyDown(window, { key: "Tab" });
    expect(document.activeElement).toBe(screen.getByText("First"));
    fireEvent.keyDown(window, { key: "Tab", shiftKey: true });
    expect(document.activeElement).toBe(screen.getByText("Last"));
    // Focus that strayed outside is brought back in.
    screen.getByText("Elsewhere").focus();
    fireEvent.keyDown(window, { key: "Tab" });
    expect(document.activeElement).toBe(screen.getByText("First"));

    fireEvent.click(screen.getByText("Last"));
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(document.activeElement).toBe(opener);
  });
});

describe("Palette type-ahead", () => {
  it("keeps keys typed before its input had focus", async () => {
    const asked: string[] = [];
    render(
      <Palette
        search={async (text) => {
          asked.push(text);
          return [];
        }}
        onPick={() => undefined}
        onClose={() => undefined}
      />,
    );
    const input = screen.getByRole("combobox", { name: "Search" }) as HTMLInputElement;
    expect(document.activeElement).toBe(input);
    // A key already on its way to the page when the palette opened.
    input.blur();
    fireEvent.keyDown(document.body, { key: "c" });
    fireEvent.keyDown(document.body, { key: "h" });
    await waitFor(() => expect(input.value).toBe("ch"));
    expect(document.activeElement).toBe(input);
    expect(input.getAttribute("aria-controls")).toBe("palette-hits");
    await waitFor(() => expect(asked).toContain("ch"));
  });
});
