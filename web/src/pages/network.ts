//! The Network page: the bridge (IPv4 subnet, IPv6 prefix, state), the IPv6 uplink mode with
//! its form (admins), and every visible instance's port forwards with an instance picker.

import { get, put, type S } from "../api";
import { h, mount, card, field, setFieldError, badge, toast, formError, showError, clearErrors } from "../dom";
import { loadInstances } from "../store";
import { forwardsEditor } from "../forwards";
import { isAdmin } from "../session";
import { checkWireguard } from "../wireguard";

type Mode = "none" | "native" | "6in4" | "wireguard";

export async function networkPage(main: HTMLElement): Promise<void> {
  const [net, list] = await Promise.all([get<S["NetworkInfo"]>("/network"), loadInstances()]);
  const b = net.bridge;
  const bridge = card(
    "Bridge",
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Name"),
      h("dd", { class: "mono" }, b.name),
      h("dt", {}, "State"),
      h("dd", {}, badge(b.state)),
      h("dt", {}, "IPv4 subnet"),
      h("dd", { class: "mono" }, b.ipv4),
      h("dt", {}, "IPv6 prefix"),
      h("dd", { class: "mono" }, b.ipv6 ?? "—"),
      h("dt", {}, "Guests' DNS"),
      h("dd", { class: "mono" }, net.dns.join(", ") || "—"),
      h("dt", {}, "nftables table"),
      h("dd", { class: "mono" }, net.nft_table),
      h("dt", {}, "Instances with addresses"),
      h("dd", {}, String(net.instances)),
    ),
  );
  const fwBox = h("div");
  mount(main, h("h1", {}, "Network"), h("div", { class: "grid" }, bridge, uplinkCard(net)), fwBox);
  await forwardsEditor(fwBox, list.map((i) => i.name), true);
}

function uplinkCard(net: S["NetworkInfo"]): HTMLElement {
  const u = net.ipv6_uplink;
  const caps = net.capabilities;
  const current = h(
    "p",
    {},
    "Current mode: ",
    h("strong", { "data-testid": "uplink-mode" }, u.mode),
    u.prefix ? h("span", { class: "mono" }, ` · ${u.prefix}`) : null,
    u.interface ? h("span", { class: "mono" }, ` · ${u.interface}`) : null,
    u.public_key ? h("span", { class: "mono" }, ` · public key ${u.public_key}`) : null,
  );
  if (!isAdmin()) return card("IPv6 uplink", current, h("p", { class: "muted" }, "An admin chooses how guests reach the IPv6 internet."));
  const modes: [Mode, string, S["CapabilityInfo"] | null][] = [
    ["none", "None (private fd42:: addresses only)", null],
    ["native", "Native (a routed prefix on the host's uplink)", null],
    ["6in4", "6in4 tunnel (e.g. Hurricane Electric)", caps.sit],
    ["wireguard", "WireGuard tunnel", caps.wireguard_kernel.available ? caps.wireguard_kernel : caps.wireguard_userspace],
  ];
  const sel = h(
    "select",
    { name: "mode" },
    modes.map(([m, label, cap]) => h("option", { value: m, selected: m === u.mode, disabled: cap ? !cap.available : false }, cap && !cap.available ? `${label} — ${cap.reason ?? "not available here"}` : label)),
  );
  const inputs = {
    prefix: h("input", { name: "prefix", placeholder: "2001:db8:42::/48", value: u.mode === "native" ? (u.prefix ?? "") : "" }),
    server_ipv4: h("input", { name: "server_ipv4", placeholder: "216.66.80.30", value: u.server_ipv4 ?? "" }),
    local_ipv4: h("input", { name: "local_ipv4", placeholder: "203.0.113.7" }),
    client_ipv6: h("input", { name: "client_ipv6", placeholder: "2001:db8:1::2/64" }),
    routed_prefix: h("input", { name: "routed_prefix", placeholder: "2001:db8:2::/48" }),
    config: h("textarea", { name: "config", rows: 7, spellcheck: "false", placeholder: "[Interface]\nPrivateKey = …\nAddress = 2001:db8:1::2/64\n\n[Peer]\nPublicKey = …\nAllowedIPs = ::/0\nEndpoint = tunnel.example.net:51820" }),
  };
  const fieldsFor: Record<Mode, (keyof typeof inputs)[]> = {
    none: [],
    native: ["prefix"],
    "6in4": ["server_ipv4", "local_ipv4", "client_ipv6", "routed_prefix"],
    wireguard: ["config", "routed_prefix"],
  };
  const labels: Record<keyof typeof inputs, string> = {
    prefix: "Routed prefix",
    server_ipv4: "Tunnel server IPv4",
    local_ipv4: "This host's IPv4",
    client_ipv6: "Client IPv6 (tunnel end)",
    routed_prefix: "Routed prefix",
    config: "wg-quick config",
  };
  const wrapped = Object.fromEntries(Object.entries(inputs).map(([k, el]) => [k, field(labels[k as keyof typeof inputs], el)])) as unknown as Record<keyof typeof inputs, HTMLElement>;
  const fieldsBox = h("div");
  const show = () => mount(fieldsBox, fieldsFor[sel.value as Mode].map((k) => wrapped[k]));
  sel.addEventListener("change", show);
  show();
  inputs.config.addEventListener("input", () => setFieldError(inputs.config, inputs.config.value.trim() ? checkWireguard(inputs.config.value) : null));
  const err = formError();
  const form = h("form", { "aria-label": "IPv6 uplink", novalidate: true }, field("Mode", sel), fieldsBox, err, h("button", { type: "submit" }, "Apply"));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const mode = sel.value as Mode;
    const body: Record<string, string> = { mode };
    for (const k of fieldsFor[mode]) if (inputs[k].value.trim()) body[k] = inputs[k].value.trim();
    if (mode === "wireguard") {
      const problem = checkWireguard(inputs.config.value);
      if (problem) return setFieldError(inputs.config, problem), inputs.config.focus();
    }
    try {
      const r = await put<S["Ipv6UplinkInfo"]>("/network/ipv6", body);
      toast(`IPv6 uplink: ${r.mode}`);
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (e) {
      showError(e, { ...inputs, mode: sel }, err);
    }
  });
  return card("IPv6 uplink", current, form);
}
