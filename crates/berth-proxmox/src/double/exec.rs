//! `pct exec` on the double's containers: the double's own endpoint `POST /double/pct`
//! (outside `/api2`, which PVE does not have: PVE's API cannot run commands in containers).
//! The `pct` that `SshNode`'s sshd runs posts its arguments here (`arg=…` in the query, in
//! order) with its stdin as the body. Only the commands Berth sends are emulated; the answer is
//! `{"data": STDOUT}` (200) or its error (500, which `pct` prints on stderr, exiting 1).

use super::{Answer, Shared};
use crate::pct::{AUTHORIZED_KEYS_SCRIPT, CHPASSWD};

/// Runs `args` (`exec VMID -- ARGV…`) with `stdin` on the double's container.
pub(crate) fn pct(shared: &Shared, query: &str, stdin: &[u8]) -> Answer {
    let args: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .filter(|(k, _)| k == "arg")
        .map(|(_, v)| v.into_owned())
        .collect();
    match run(shared, &args, stdin) {
        Ok(stdout) => Answer::data(serde_json::Value::String(stdout)),
        Err(message) => Answer::error(500, &message),
    }
}

fn run(shared: &Shared, args: &[String], stdin: &[u8]) -> Result<String, String> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    let (vmid, argv) = match words.as_slice() {
        ["exec", vmid, "--", argv @ ..] if !argv.is_empty() => (*vmid, argv),
        _ => {
            return Err(format!(
                "pct {}: only `pct exec VMID -- COMMAND…` is emulated by Berth's PVE double",
                words.join(" ")
            ));
        }
    };
    let vmid: u64 = vmid
        .parse()
        .map_err(|_| format!("value '{vmid}' does not look like a valid VM ID"))?;
    let text = std::str::from_utf8(stdin).map_err(|_| "stdin is not UTF-8".to_owned())?;
    let mut cluster = shared.cluster();
    let Some(ct) = cluster.containers.get_mut(&vmid) else {
        return Err(format!(
            "Configuration file 'nodes/pve/lxc/{vmid}.conf' does not exist"
        ));
    };
    if ct.status != "running" {
        return Err(format!("CT {vmid} not running"));
    }
    if argv == CHPASSWD {
        let mut hash = None;
        for line in text.lines() {
            match line.split_once(':') {
                Some(("root", h)) if h.starts_with('$') && !h.contains(':') => {
                    hash = Some(h.to_owned())
                }
                _ => return Err("chpasswd: line 1: invalid line".into()),
            }
        }
        ct.root_password_hash = Some(hash.ok_or("chpasswd: no input")?);
        return Ok(String::new());
    }
    if argv == ["sh", "-c", AUTHORIZED_KEYS_SCRIPT] {
        ct.authorized_keys = Some(text.to_owned());
        return Ok(String::new());
    }
    Err(format!(
        "{}: not emulated by Berth's PVE double (exit 127)",
        argv[0]
    ))
}
