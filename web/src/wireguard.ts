//! Inline checks of a wg-quick config before it is sent (the daemon checks it again and
//! names the line): sections, the keys each needs, key encoding, addresses.

const KEY = /^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;
const INTERFACE_KEYS = new Set(["privatekey", "address", "listenport", "dns", "mtu", "table", "preup", "postup", "predown", "postdown", "fwmark", "saveconfig"]);
const PEER_KEYS = new Set(["publickey", "presharedkey", "allowedips", "endpoint", "persistentkeepalive"]);

/** `null` when the text looks like a usable config, else the first problem with its line. */
export function checkWireguard(text: string): string | null {
  let section: "" | "interface" | "peer" = "";
  let sawInterface = false;
  let peers = 0;
  let privateKey = false;
  let peerKey = true;
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n += 1) {
    const line = lines[n].replace(/#.*/, "").trim();
    const at = `line ${n + 1}`;
    if (!line) continue;
    if (/^\[interface\]$/i.test(line)) {
      if (sawInterface) return `${at}: a second [Interface]; a config has one`;
      section = "interface";
      sawInterface = true;
      continue;
    }
    if (/^\[peer\]$/i.test(line)) {
      if (!peerKey) return `${at}: the [Peer] before this one has no PublicKey`;
      section = "peer";
      peers += 1;
      peerKey = false;
      continue;
    }
    if (line.startsWith("[")) return `${at}: unknown section ${line}; use [Interface] or [Peer]`;
    const eq = line.indexOf("=");
    if (eq < 0) return `${at}: expected "Key = value"`;
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = line.slice(eq + 1).trim();
    if (!section) return `${at}: "${line.slice(0, eq).trim()}" comes before [Interface]`;
    const allowed = section === "interface" ? INTERFACE_KEYS : PEER_KEYS;
    if (!allowed.has(key)) return `${at}: unknown key "${line.slice(0, eq).trim()}" in [${section === "interface" ? "Interface" : "Peer"}]`;
    if (["privatekey", "publickey", "presharedkey"].includes(key) && !KEY.test(value))
      return `${at}: ${line.slice(0, eq).trim()} is not a WireGuard key (44 base64 characters ending in "=")`;
    if (key === "privatekey") privateKey = true;
    if (key === "publickey") peerKey = true;
    if (key === "address" || key === "allowedips") {
      for (const a of value.split(",").map((x) => x.trim())) {
        if (!/^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(a)) return `${at}: "${a}" is not an address or prefix`;
      }
    }
  }
  if (!sawInterface) return "no [Interface] section";
  if (!privateKey) return "[Interface] has no PrivateKey";
  if (peers === 0) return "no [Peer] section";
  if (!peerKey) return "the last [Peer] has no PublicKey";
  return null;
}
