//! The host's apt sources (deb822 `*.sources` and one-line `sources.list`), read to find the
//! Debian mirror the host itself uses.

use std::path::Path;

use tracing::debug;

/// One `deb` source of the host: a URI and its suites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    pub uri: String,
    pub suites: Vec<String>,
    pub components: Vec<String>,
}

/// Debian's code names and symbolic suites, to tell a Debian source from an Ubuntu one.
const DEBIAN_SUITES: &[&str] = &[
    "buster",
    "bullseye",
    "bookworm",
    "trixie",
    "forky",
    "duke",
    "sid",
    "stable",
    "testing",
    "unstable",
    "oldstable",
    "oldoldstable",
];

/// The suite's release part: `bookworm` for `bookworm-security` or `bookworm/updates`.
fn base_suite(suite: &str) -> &str {
    suite.split(['-', '/']).next().unwrap_or(suite)
}

fn is_security(suite: &str) -> bool {
    suite.ends_with("-security") || suite.ends_with("/updates")
}

/// The host's `deb` sources, in the order apt reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostSources {
    pub sources: Vec<AptSource>,
}

impl HostSources {
    /// Reads `/etc/apt/sources.list` and `/etc/apt/sources.list.d/*.{list,sources}`; files that
    /// cannot be read are skipped (the fallback mirror applies then).
    pub fn read() -> Self {
        Self::read_from(Path::new("/etc/apt"))
    }

    /// Like [`HostSources::read`], from another apt directory (tests).
    pub fn read_from(apt_dir: &Path) -> Self {
        let mut sources = Vec::new();
        if let Ok(text) = std::fs::read_to_string(apt_dir.join("sources.list")) {
            sources.extend(parse_one_line(&text));
        }
        let mut files: Vec<_> = std::fs::read_dir(apt_dir.join("sources.list.d"))
            .map(|dir| dir.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else {
                debug!(file = %file.display(), "unreadable apt source file skipped");
                continue;
            };
            match file.extension().and_then(|e| e.to_str()) {
                Some("sources") => sources.extend(parse_deb822(&text)),
                Some("list") => sources.extend(parse_one_line(&text)),
                _ => {}
            }
        }
        Self { sources }
    }

    /// The first Debian archive URI (a source with a Debian suite that is not a security one).
    pub fn debian_mirror(&self) -> Option<String> {
        self.find(|suite| !is_security(suite))
    }

    /// The first Debian security URI (`bookworm-security`, or the old `buster/updates`).
    pub fn debian_security_mirror(&self) -> Option<String> {
        self.find(is_security)
    }

    fn find(&self, want: impl Fn(&str) -> bool) -> Option<String> {
        self.sources
            .iter()
            .find(|s| {
                s.suites
                    .iter()
                    .any(|suite| DEBIAN_SUITES.contains(&base_suite(suite)) && want(suite))
            })
            .and_then(|s| usable_uri(&s.uri))
    }
}

/// A URI mmdebstrap can use: http(s)/ftp/file as is; `mirror+file:` replaced by its list's
/// first entry; anything else (cdrom:, tor+) is not used.
fn usable_uri(uri: &str) -> Option<String> {
    let uri = uri.trim_end_matches('/');
    if let Some(list) = uri.strip_prefix("mirror+file:") {
        let text = std::fs::read_to_string(list).ok()?;
        let first = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))?;
        let url = first.split_whitespace().next()?;
        return usable_uri(url);
    }
    ["http://", "https://", "ftp://", "file:/"]
        .iter()
        .any(|scheme| uri.starts_with(scheme))
        .then(|| uri.to_owned())
}

/// Parses one-line sources: `deb [options] URI suite [component…]`.
pub fn parse_one_line(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        let Some(rest) = line
            .strip_prefix("deb ")
            .or_else(|| line.strip_prefix("deb\t"))
        else {
            continue;
        };
        let mut rest = rest.trim_start();
        if rest.starts_with('[') {
            match rest.find(']') {
                Some(end) => rest = rest[end + 1..].trim_start(),
                None => continue,
            }
        }
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(AptSource {
            uri: uri.to_owned(),
            suites: vec![suite.to_owned()],
            components: words.map(str::to_owned).collect(),
        });
    }
    out
}

/// Parses deb822 sources: stanzas of `Types:`, `URIs:`, `Suites:`, `Components:`, `Enabled:`.
pub fn parse_deb822(text: &str) -> Vec<AptSource> {
    let mut out = Vec::new();
    for stanza in stanzas(text) {
        let field = |name: &str| {
            stanza
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
                .unwrap_or_default()
        };
        let enabled = field("Enabled");
        if enabled
            .first()
            .is_some_and(|e| e.eq_ignore_ascii_case("no"))
        {
            continue;
        }
        if !field("Types").iter().any(|t| t == "deb") {
            continue;
        }
        let suites = field("Suites");
        let components = field("Components");
        for uri in field("URIs") {
            out.push(AptSource {
                uri,
                suites: suites.clone(),
                components: components.clone(),
            });
        }
    }
    out
}

/// Splits deb822 text into stanzas of (field, value), joining continuation lines.
fn stanzas(text: &str) -> Vec<Vec<(String, String)>> {
    let mut all = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if line.trim().is_empty() {
            if !current.is_empty() {
                all.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with([' ', '\t']) {
            if let Some((_, value)) = current.last_mut() {
                value.push(' ');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            current.push((key.trim().to_owned(), value.trim().to_owned()));
        }
    }
    if !current.is_empty() {
        all.push(current);
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEB822: &str = "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\n\
URIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\n\
URIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n";

    #[test]
    fn reads_deb822_stanzas() {
        let sources = HostSources {
            sources: parse_deb822(DEB822),
        };
        assert_eq!(sources.sources.len(), 2);
        assert_eq!(sources.sources[0].suites, ["bookworm", "bookworm-updates"]);
        assert_eq!(
            sources.debian_mirror().as_deref(),
            Some("http://deb.debian.org/debian")
        );
        assert_eq!(
            sources.debian_security_mirror().as_deref(),
            Some("http://deb.debian.org/debian-security")
        );
    }

    #[test]
    fn skips_disabled_and_source_only_stanzas() {
        let text = "Types: deb-src\nURIs: http://a/debian\nSuites: bookworm\n\n\
Enabled: no\nTypes: deb\nURIs: http://b/debian\nSuites: bookworm\n\n\
Types: deb deb-src\nURIs: https://c/debian/\nSuites: trixie\nComponents: main\n";
        let sources = HostSources {
            sources: parse_deb822(text),
        };
        assert_eq!(sources.debian_mirror().as_deref(), Some("https://c/debian"));
    }

    #[test]
    fn reads_one_line_sources_with_options() {
        let text = "# comment\ndeb [arch=amd64 signed-by=/k.gpg] http://ftp.de.debian.org/debian bullseye main contrib\n\
deb http://security.debian.org/debian-security bullseye-security main\n\
deb-src http://x/debian bullseye main\n";
        let sources = HostSources {
            sources: parse_one_line(text),
        };
        assert_eq!(sources.sources.len(), 2);
        assert_eq!(sources.sources[0].components, ["main", "contrib"]);
        assert_eq!(
            sources.debian_mirror().as_deref(),
            Some("http://ftp.de.debian.org/debian")
        );
        assert_eq!(
            sources.debian_security_mirror().as_deref(),
            Some("http://security.debian.org/debian-security")
        );
    }

    #[test]
    fn ubuntu_hosts_have_no_debian_mirror() {
        let text = "deb http://archive.ubuntu.com/ubuntu jammy main\n";
        let sources = HostSources {
            sources: parse_one_line(text),
        };
        assert_eq!(sources.debian_mirror(), None);
    }

    #[test]
    fn reads_an_apt_directory() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(dir.path().join("sources.list.d")).expect("mkdir");
        std::fs::write(dir.path().join("sources.list.d/debian.sources"), DEB822).expect("write");
        std::fs::write(
            dir.path().join("sources.list.d/other.list"),
            "deb http://example.org/debian sid main\n",
        )
        .expect("write");
        let sources = HostSources::read_from(dir.path());
        assert_eq!(sources.sources.len(), 3);
        assert_eq!(
            sources.debian_mirror().as_deref(),
            Some("http://deb.debian.org/debian")
        );
    }

    #[test]
    fn mirror_file_uris_use_their_first_entry() {
        let dir = tempfile::tempdir().expect("tempdir");
        let list = dir.path().join("debian.list");
        std::fs::write(&list, "# mirrors\nhttps://cdn.example/debian/ priority:1\n")
            .expect("write");
        let uri = format!("mirror+file:{}", list.display());
        assert_eq!(
            usable_uri(&uri).as_deref(),
            Some("https://cdn.example/debian")
        );
        assert_eq!(usable_uri("cdrom:[Debian]/"), None);
    }
}
