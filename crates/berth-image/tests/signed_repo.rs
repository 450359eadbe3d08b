//! The archive verification path, proven without the real Ubuntu archive: a local apt
//! repository signed with a test key is accepted when that key is configured
//! (`[images] ubuntu_keyring`) and refused with Berth's built-in Ubuntu keys; an unsigned
//! repository and a signed one whose package index was changed are refused even with the key.
//! Nothing unsigned is ever installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use berth_image::bootstrap::{self, BootstrapError, Tool, Variant};
use berth_image::catalog::{Mirrors, Source};
use berth_image::sources::HostSources;
use berth_testkit::http::StaticServer;
use berth_testkit::{Scratch, arch, privileged};
use berth_types::ImageRef;
use sha2::{Digest, Sha256};

const PACKAGE: &str = "berth-signed-test";
const SUITE: &str = "noble";

/// A GnuPG home with one test signing key; its agent is stopped on drop.
struct TestKey {
    home: PathBuf,
    /// The public key, binary, as a keyring file.
    public: PathBuf,
}

impl TestKey {
    fn new(dir: &Path) -> Self {
        let home = dir.join("gnupg");
        std::fs::create_dir_all(&home).expect("gnupg home");
        let key = Self {
            public: dir.join("test-key.gpg"),
            home,
        };
        key.gpg(&[
            "--quick-gen-key",
            "Berth Test Archive <archive@berth.invalid>",
            "ed25519",
            "sign",
            "never",
        ]);
        let public = key.gpg(&["--export"]);
        std::fs::write(&key.public, public).expect("write the public key");
        key
    }

    fn gpg(&self, args: &[&str]) -> Vec<u8> {
        let out = Command::new("gpg")
            .env("GNUPGHOME", &self.home)
            .args([
                "--batch",
                "--quiet",
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                "",
            ])
            .args(args)
            .output()
            .expect("gpg runs (apt install gnupg)");
        assert!(
            out.status.success(),
            "gpg {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    }
}

impl Drop for TestKey {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", &self.home)
            .args(["--kill", "all"])
            .status();
    }
}

fn sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A repository with one small package: `dists/noble/{Release,InRelease}`, `main`'s index.
fn make_repository(dir: &Path, key: &TestKey) -> PathBuf {
    let repo = dir.join("repo");
    let tree = dir.join("pkg");
    std::fs::create_dir_all(tree.join("DEBIAN")).expect("pkg");
    std::fs::create_dir_all(tree.join("usr/share").join(PACKAGE)).expect("pkg");
    std::fs::write(
        tree.join("usr/share").join(PACKAGE).join("hello"),
        "signed\n",
    )
    .expect("file");
    std::fs::write(
        tree.join("DEBIAN/control"),
        format!(
            "Package: {PACKAGE}\nVersion: 1.0\nArchitecture: all\nMaintainer: Berth <test@berth.invalid>\n\
             Description: a package from a signed test repository\n"
        ),
    )
    .expect("control");
    let pool = repo.join("pool");
    std::fs::create_dir_all(&pool).expect("pool");
    let deb = pool.join(format!("{PACKAGE}_1.0_all.deb"));
    let built = Command::new("dpkg-deb")
        .args(["--root-owner-group", "--build"])
        .arg(&tree)
        .arg(&deb)
        .output()
        .expect("dpkg-deb");
    assert!(
        built.status.success(),
        "{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let data = std::fs::read(&deb).expect("deb");
    let packages = format!(
        "Package: {PACKAGE}\nVersion: 1.0\nArchitecture: all\nMaintainer: Berth <test@berth.invalid>\n\
         Filename: pool/{PACKAGE}_1.0_all.deb\nSize: {}\nSHA256: {}\n\
         Description: a package from a signed test repository\n\n",
        data.len(),
        sha256(&data)
    );
    let dists = repo.join("dists").join(SUITE);
    let index = dists.join(format!("main/binary-{}", arch().as_str()));
    std::fs::create_dir_all(&index).expect("index dir");
    std::fs::write(index.join("Packages"), &packages).expect("Packages");
    let release = format!(
        "Origin: Berth test\nSuite: {SUITE}\nCodename: {SUITE}\nDate: {}\nArchitectures: {}\n\
         Components: main\nSHA256:\n {} {} main/binary-{}/Packages\n",
        chrono::Utc::now().format("%a, %d %b %Y %H:%M:%S UTC"),
        arch().as_str(),
        sha256(packages.as_bytes()),
        packages.len(),
        arch().as_str()
    );
    std::fs::write(dists.join("Release"), &release).expect("Release");
    key.gpg(&[
        "--clearsign",
        "--output",
        &dists.join("InRelease").to_string_lossy(),
        &dists.join("Release").to_string_lossy(),
    ]);
    repo
}

/// The Ubuntu source as Berth resolves it, pointed at the test repository.
fn source(url: &str, keyring: Option<PathBuf>) -> Source {
    let mirrors = Mirrors {
        ubuntu: Some(url.to_owned()),
        ubuntu_ports: Some(url.to_owned()),
        ubuntu_keyring: keyring,
        ..Mirrors::default()
    };
    let image = ImageRef::parse("ubuntu/24.04").expect("known");
    let mut source = Source::resolve_with(image, arch(), &mirrors, &HostSources::default());
    // The test repository has the release suite only, and only `main`.
    source.updates = false;
    source.security_mirror = None;
    source.components = &["main"];
    source
}

async fn install(source: &Source, target: &Path) -> Result<(), BootstrapError> {
    let tool = Tool::detect().expect("mmdebstrap");
    bootstrap::run_variant(
        &tool,
        source,
        target,
        Variant::Extract,
        &[PACKAGE],
        &mut |_| {},
    )
    .await
}

fn installed(target: &Path) -> bool {
    target
        .join("usr/share")
        .join(PACKAGE)
        .join("hello")
        .exists()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_repository_is_trusted_only_with_its_key() {
    if !privileged() {
        return;
    }
    let scratch = Scratch::new("signed-repo");
    let key = TestKey::new(&scratch.path);
    let repo = make_repository(&scratch.path, &key);
    let server = StaticServer::start(&repo).await;

    // Refused with Berth's own Ubuntu keys: the test key signed it.
    let target = scratch.path.join("without-key");
    let err = install(&source(&server.url, None), &target)
        .await
        .expect_err("untrusted key");
    let text = berth_image::error_chain(&err);
    eprintln!("without the key: {text}");
    assert!(
        text.contains("NO_PUBKEY") || text.contains("not signed"),
        "{text}"
    );
    assert!(!installed(&target));

    // Accepted with the key configured.
    let target = scratch.path.join("with-key");
    install(&source(&server.url, Some(key.public.clone())), &target)
        .await
        .unwrap_or_else(|e| panic!("with the key: {}", berth_image::error_chain(&e)));
    assert!(installed(&target));

    // The package index changed after signing: refused although the key is configured.
    let index = repo.join(format!(
        "dists/{SUITE}/main/binary-{}/Packages",
        arch().as_str()
    ));
    let mut packages = std::fs::read_to_string(&index).expect("Packages");
    packages.push_str(
        "Package: evil\nVersion: 1\nArchitecture: all\nFilename: pool/x.deb\nSize: 1\n\n",
    );
    std::fs::write(&index, packages).expect("tamper");
    let target = scratch.path.join("tampered");
    let err = install(&source(&server.url, Some(key.public.clone())), &target)
        .await
        .expect_err("tampered index");
    eprintln!("tampered index: {}", berth_image::error_chain(&err));
    assert!(!installed(&target));

    // No signature at all: refused although the key is configured.
    std::fs::remove_file(repo.join(format!("dists/{SUITE}/InRelease"))).expect("unsign");
    let target = scratch.path.join("unsigned");
    let err = install(&source(&server.url, Some(key.public.clone())), &target)
        .await
        .expect_err("unsigned");
    let text = berth_image::error_chain(&err);
    eprintln!("unsigned: {text}");
    assert!(!installed(&target));
}
