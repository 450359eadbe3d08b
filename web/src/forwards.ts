//! Port forwards editor: the forwards of some instances with add (instance picker when there
//! are several) and delete. Used by the instance page and the Network page.

import { ApiError, del, enc, get, post, type S } from "./api";
import { h, mount, card, field, setFieldError, table, toast, confirmDialog } from "./dom";

/** `picker`: show the instance picker (the Network page) even for one instance. */
export async function forwardsEditor(box: HTMLElement, names: string[], picker = names.length > 1): Promise<void> {
  const listBox = h("div");
  const pick = h("select", { name: "instance" }, names.map((n) => h("option", { value: n }, n)));
  const listen = h("input", { name: "listen", placeholder: "2222 or 127.0.0.1:2222", autocomplete: "off", required: true });
  const port = h("input", { name: "port", type: "number", min: 1, max: 65535, value: 22, required: true });
  const proto = h("select", { name: "protocol" }, h("option", { value: "tcp" }, "TCP"), h("option", { value: "udp" }, "UDP"));
  const err = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "row wrap" },
    picker ? field("Instance", pick) : null,
    field("Host [address:]port", listen),
    field("Guest port", port),
    field("Protocol", proto),
    h("button", { type: "submit" }, "Add forward"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    err.textContent = "";
    [listen, port].forEach((c) => setFieldError(c, null));
    if (!listen.value.trim()) return setFieldError(listen, "give a host port, e.g. 2222"), listen.focus();
    const body: S["CreateForwardRequest"] = { listen: listen.value.trim(), port: Number(port.value), protocol: proto.value as S["ForwardProtocol"] };
    try {
      const f = await post<S["Forward"]>(`/instances/${enc(pick.value || names[0])}/forwards`, body);
      toast(`Forward ${f.listen} → ${f.port}/${f.protocol} added`);
      listen.value = "";
      await draw();
    } catch (e) {
      if (e instanceof ApiError && (e.field === "listen" || e.field === "port")) {
        const c = e.field === "listen" ? listen : port;
        setFieldError(c, e.message);
        c.focus();
      } else err.textContent = e instanceof ApiError ? e.message : String(e);
    }
  });
  const draw = async () => {
    const all = await Promise.all(names.map(async (n) => (await get<S["Forward"][]>(`/instances/${enc(n)}/forwards`)).map((f) => ({ n, f }))));
    const rows = all.flat();
    mount(
      listBox,
      table(
        "Port forwards",
        [...(picker ? ["Instance"] : []), "Host", "Guest port", "Protocol", ""],
        rows.map(({ n, f }) => [
          ...(picker ? [n] : []),
          h("span", { class: "mono" }, f.listen),
          String(f.port),
          f.protocol,
          h(
            "button",
            {
              type: "button",
              class: "small danger",
              "aria-label": `remove forward ${f.listen} of ${n}`,
              onclick: async () => {
                if (!(await confirmDialog(`Remove ${f.listen}?`, `Traffic to ${f.listen} no longer reaches ${n}:${f.port}.`, "remove"))) return;
                try {
                  await del(`/instances/${enc(n)}/forwards/${enc(f.id)}`);
                  toast(`Forward ${f.listen} removed`);
                } catch (e) {
                  err.textContent = e instanceof ApiError ? e.message : String(e);
                }
                await draw();
              },
            },
            "remove",
          ),
        ]),
        "No port forwards.",
      ),
    );
  };
  await draw();
  const hint = h("p", { class: "hint" }, "Host side: a port (2222), a range (8000-8010) or address:port (127.0.0.1:2222); a bare port or 0.0.0.0 means every address, IPv4 and IPv6.");
  mount(box, card("Port forwards", names.length ? [form, hint] : h("p", { class: "muted" }, "Create an instance first."), err, listBox));
}
