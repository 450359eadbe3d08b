//! The `pct exec` commands Berth runs on a node over SSH (PVE's API has no exec for
//! containers), as the remote command line the node's shell parses. Only fixed words and a
//! vmid go on that line: secrets and keys travel on stdin, never as arguments.

/// Sets root's password from a crypt(3) hash read on stdin as `root:HASH`.
pub const CHPASSWD: &[&str] = &["chpasswd", "-e"];

/// Replaces root's `authorized_keys` with stdin, atomically (a temporary file renamed over it),
/// in a 0700 `/root/.ssh`, with mode 0600.
pub const AUTHORIZED_KEYS_SCRIPT: &str = "umask 077 && mkdir -p /root/.ssh && \
     cat > /root/.ssh/authorized_keys.berth && \
     mv -f /root/.ssh/authorized_keys.berth /root/.ssh/authorized_keys";

/// `pct exec VMID -- ARGV…` quoted for a POSIX shell.
pub fn exec_line(vmid: u64, argv: &[&str]) -> String {
    let mut line = format!("pct exec {vmid} --");
    for arg in argv {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    line
}

/// The line that writes root's `authorized_keys` from stdin.
pub fn authorized_keys_line(vmid: u64) -> String {
    exec_line(vmid, &["sh", "-c", AUTHORIZED_KEYS_SCRIPT])
}

/// One word for a POSIX shell: left bare when it holds only safe characters, else in single
/// quotes (a `'` inside written as `'\''`).
pub fn quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b));
    if safe {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_quote_what_the_shell_would_split() {
        assert_eq!(exec_line(101, CHPASSWD), "pct exec 101 -- chpasswd -e");
        assert_eq!(quote("it's"), r"'it'\''s'");
        let out = std::process::Command::new("sh")
            .args(["-c", &format!("printf %s {}", quote("it's a $HOME"))])
            .output()
            .expect("sh runs");
        assert_eq!(out.stdout, b"it's a $HOME");
        assert!(authorized_keys_line(7).starts_with("pct exec 7 -- sh -c 'umask 077 && "));
    }
}
