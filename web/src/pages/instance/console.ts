//! The console tab: xterm.js on the instance's console WebSocket (binary frames are terminal
//! bytes both ways; `{"resize"}` text frames on size changes; `{"exit"}` ends it).

import { Terminal } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";
import { csrfToken } from "../../api";
import { h, mount, card } from "../../dom";
import { instance } from "../../store";

export function consoleTab(box: HTMLElement, name: string): () => void {
  const inst = instance(name);
  if (!inst) return () => {};
  if (inst.state !== "running") {
    mount(box, card("Console", h("p", { class: "muted" }, `${inst.name} is ${inst.state}; start it to open a console.`)));
    return () => {};
  }
  const status = h("p", { class: "muted", "aria-live": "polite" }, "Connecting…");
  const screen = h("div", { class: "console-screen", "aria-label": `Console of ${inst.name}` });
  const reconnect = h("button", { type: "button", class: "small", hidden: true }, "Reconnect");
  mount(box, card("Console", h("div", { class: "row" }, status, reconnect), screen, h("p", { class: "hint" }, "A root shell inside the guest. Press Ctrl+D or type exit to end it; Tab stays in the terminal — use the Reconnect button or the tabs above to leave.")));
  const term = new Terminal({
    cursorBlink: true,
    fontFamily: "ui-monospace, 'DejaVu Sans Mono', monospace",
    fontSize: 14,
    theme: { background: "#0b0e14", foreground: "#d8dee9", cursor: "#d8dee9" },
    screenReaderMode: false,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(screen);
  fit.fit();
  const enc = new TextEncoder();
  let ws: WebSocket | null = null;
  const open = () => {
    reconnect.hidden = true;
    status.textContent = "Connecting…";
    const proto = location.protocol === "https:" ? "wss" : "ws";
    const q = new URLSearchParams({ mode: "shell", rows: String(term.rows), cols: String(term.cols), term: "xterm-256color" });
    const token = csrfToken();
    if (token) q.set("csrf", token);
    const socket = new WebSocket(`${proto}://${location.host}/api/v1/instances/${encodeURIComponent(inst.name)}/console?${q}`);
    socket.binaryType = "arraybuffer";
    ws = socket;
    socket.onopen = () => {
      status.textContent = `Connected to ${inst.name}`;
      term.focus();
    };
    socket.onmessage = (m) => {
      if (m.data instanceof ArrayBuffer) term.write(new Uint8Array(m.data));
      else if (typeof m.data === "string") {
        try {
          const c = JSON.parse(m.data) as { exit?: { code: number } };
          if (c.exit) status.textContent = `The shell ended (exit code ${c.exit.code}).`;
        } catch {
          /* not a control frame */
        }
      }
    };
    socket.onclose = () => {
      if (ws !== socket) return;
      ws = null;
      if (!status.textContent?.startsWith("The shell ended")) status.textContent = "Disconnected.";
      reconnect.hidden = false;
    };
  };
  term.onData((d) => ws?.readyState === WebSocket.OPEN && ws.send(enc.encode(d)));
  term.onResize(({ rows, cols }) => ws?.readyState === WebSocket.OPEN && ws.send(JSON.stringify({ resize: { rows, cols } })));
  reconnect.addEventListener("click", () => {
    term.reset();
    open();
  });
  const onWin = () => fit.fit();
  window.addEventListener("resize", onWin);
  open();
  return () => {
    window.removeEventListener("resize", onWin);
    const s = ws;
    ws = null;
    s?.close();
    term.dispose();
  };
}
