//! Port forwards editor: the forwards of some instances with add (instance picker when there
//! are several) and delete. Used by the instance page and the Network page.

import { del, enc, get, message, post, type S } from "./api";
import { h, mount, card, field, setFieldError, table, toast, confirmDialog, formError, showError, clearErrors } from "./dom";
import { checkNumber, constrain, ENUMS } from "./rules";

/** `picker`: show the instance picker (the Network page) even for one instance. */
export async function forwardsEditor(box: HTMLElement, names: string[], picker = names.length > 1): Promise<void> {
  const listBox = h("div");
  const pick = h("select", { name: "instance" }, names.map((n) => h("option", { value: n }, n)));
  const listen = h("input", { name: "listen", placeholder: "2222 or 127.0.0.1:2222", autocomplete: "off", required: true });
  const port = h("input", { name: "port", type: "number", value: 22, required: true });
  constrain(port, "CreateForwardRequest.port");
  port.addEventListener("input", () => setFieldError(port, checkNumber("CreateForwardRequest.port", port.value, { required: true })));
  const proto = h("select", { name: "protocol" }, ENUMS.ForwardProtocol.map((p) => h("option", { value: p }, p.toUpperCase())));
  const err = formError();
  const form = h(
    "form",
    { class: "row wrap", "aria-label": "Add a port forward", novalidate: true },
    picker ? field("Instance", pick) : null,
    field("Host [address:]port", listen),
    field("Guest port", port),
    field("Protocol", proto),
    h("button", { type: "submit" }, "Add forward"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    if (!listen.value.trim()) return setFieldError(listen, "give a host port, e.g. 2222"), listen.focus();
    const bad = checkNumber("CreateForwardRequest.port", port.value, { required: true });
    if (bad) return setFieldError(port, bad), port.focus();
    const body: S["CreateForwardRequest"] = { listen: listen.value.trim(), port: Number(port.value), protocol: proto.value as S["ForwardProtocol"] };
    try {
      const f = await post<S["Forward"]>(`/instances/${enc(pick.value || names[0])}/forwards`, body);
      toast(`Forward ${f.listen} → ${f.port}/${f.protocol} added`);
      listen.value = "";
      await draw().catch(() => {});
    } catch (e) {
      showError(e, { listen, port, protocol: proto, instance: pick }, err);
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
                  err.textContent = message(e);
                }
                await draw().catch(() => {});
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
