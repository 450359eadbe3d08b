//! Root credentials: a password (hashed with sha512-crypt straight into the guest's
//! /etc/shadow, never stored or logged in clear) and SSH public keys, at create and later.

use std::path::Path;

use berth_guestfs::customise::CustomiseError;
use berth_guestfs::rootfs::Rootfs;
use berth_runtime::{ExecSpec, GuestCredentials, Runtime, RuntimeStatus};
use berth_types::FieldError;
use berth_types::api::{CreateInstanceRequest, PasswordRequest, PasswordResponse, SshKeysRequest};
use berth_types::credentials::{generate_password, validate_password, validate_ssh_key};

use crate::app::Principal;
use crate::app::access::Want;
use crate::app::error::{HostError, error_chain};
use crate::app::{App, AppError};

/// Most keys root's `authorized_keys` takes through the API.
const MAX_SSH_KEYS: usize = 100;
/// sha512-crypt rounds (glibc's default is 5000; more slows guessing from a stolen shadow).
const HASH_ROUNDS: usize = 65_536;
const SSHD_DROP_IN: &str = "/etc/ssh/sshd_config.d/berth.conf";

/// What goes into the guest: a hash, never the password.
#[derive(Clone, Default)]
pub struct RootCredentials {
    pub password_hash: Option<String>,
    pub ssh_keys: Vec<String>,
}

impl std::fmt::Debug for RootCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RootCredentials")
            .field(
                "password_hash",
                &self.password_hash.as_ref().map(|_| "<redacted>"),
            )
            .field("ssh_keys", &self.ssh_keys.len())
            .finish()
    }
}

/// The password to set: the given one, validated, or a generated one (returned for display).
fn choose_password(
    given: Option<&str>,
    generate: bool,
    field: &str,
) -> Result<(Option<String>, Option<String>), AppError> {
    match (given, generate) {
        (Some(_), true) => Err(FieldError::new(
            field,
            "give a password or ask for a generated one, not both",
        )
        .into()),
        (Some(password), false) => {
            validate_password(password, field)?;
            Ok((Some(password.to_owned()), None))
        }
        (None, true) => {
            let password = generate_password();
            Ok((Some(password.clone()), Some(password)))
        }
        (None, false) => Ok((None, None)),
    }
}

fn hash(password: &str) -> Result<String, AppError> {
    let params = sha_crypt::Sha512Params::new(HASH_ROUNDS)
        .map_err(|_| AppError::Internal("hash parameters".into()))?;
    sha_crypt::sha512_simple(password, &params)
        .map_err(|_| AppError::Internal("hashing the password failed".into()))
}

impl App {
    /// Validates the credentials of a create request; returns them and a generated password.
    pub(crate) fn credentials_for_create(
        request: &CreateInstanceRequest,
    ) -> Result<(RootCredentials, Option<String>), AppError> {
        let (password, generated) = choose_password(
            request.password.as_deref(),
            request.generate_password,
            "password",
        )?;
        let ssh_keys = request
            .ssh_keys
            .iter()
            .enumerate()
            .map(|(i, key)| validate_ssh_key(key, &format!("ssh_keys[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let password_hash = password.as_deref().map(hash).transpose()?;
        Ok((
            RootCredentials {
                password_hash,
                ssh_keys,
            },
            generated,
        ))
    }

    /// Writes credentials into a guest rootfs: shadow, authorized_keys, and sshd's root login
    /// policy (password login only when a password is set; keys always). Returns whether the
    /// policy changed (sshd must then reload; a new password alone needs nothing).
    pub(crate) fn write_credentials(
        rootfs: &Path,
        credentials: &RootCredentials,
    ) -> Result<bool, HostError> {
        let failed = |e: CustomiseError| HostError::host("writing root's credentials", e);
        let root = Rootfs::open(rootfs).map_err(|e| failed(e.into()))?;
        if let Some(hash) = &credentials.password_hash {
            berth_guestfs::customise::set_root_password_hash(&root, hash).map_err(failed)?;
        }
        if !credentials.ssh_keys.is_empty() {
            berth_guestfs::customise::set_root_ssh_keys(&root, &credentials.ssh_keys)
                .map_err(failed)?;
        }
        let policy = if credentials.password_hash.is_some() {
            "yes"
        } else {
            "prohibit-password"
        };
        let text = format!(
            "# Written by Berth: root may log in with {}.\nPermitRootLogin {policy}\n",
            if policy == "yes" {
                "a password or a key"
            } else {
                "a key only"
            }
        );
        let before = root
            .read_optional(Path::new(SSHD_DROP_IN))
            .map_err(|e| failed(e.into()))?;
        if before.as_deref() == Some(text.as_bytes()) {
            return Ok(false);
        }
        root.write_file(Path::new(SSHD_DROP_IN), text.as_bytes(), 0o644)
            .map_err(|e| failed(e.into()))?;
        Ok(true)
    }

    /// `POST /instances/{name}/password`: on a running or stopped instance.
    pub async fn set_password(
        &self,
        caller: &Principal,
        name: &str,
        request: PasswordRequest,
    ) -> Result<PasswordResponse, AppError> {
        let record = self.instance_for(caller, name, Want::Write)?;
        let (password, generated) =
            choose_password(request.password.as_deref(), request.generate, "password")?;
        let password = password
            .ok_or_else(|| FieldError::new("password", "give a password, or generate: true"))?;
        let password_hash = hash(&password)?;
        match record.rootfs.clone() {
            Some(rootfs) => {
                let credentials = RootCredentials {
                    password_hash: Some(password_hash),
                    ssh_keys: Vec::new(),
                };
                self.write_local_credentials(&record, rootfs, credentials)
                    .await?
            }
            // The backend keeps the root filesystem (proxmox): it sets the password itself.
            None => {
                let credentials = GuestCredentials {
                    password_hash: Some(password_hash),
                    ssh_keys: None,
                };
                self.runtime(&record.backend)?
                    .set_credentials(&record.name, &credentials)
                    .await
                    .map_err(|e| AppError::runtime("setting the password", e))?
            }
        }
        tracing::info!(instance = %record.name, generated = generated.is_some(), "root password changed");
        self.events.lifecycle(
            record.name.as_str(),
            &record.owner,
            berth_types::events::LifecycleAction::InstancePasswordChanged,
            Some(self.observed_state(&record).await),
            None,
        );
        Ok(PasswordResponse {
            password: generated,
        })
    }

    /// `PUT /instances/{name}/ssh-keys`: replaces root's `authorized_keys`, on a running or
    /// stopped local instance, or a running one whose backend keeps the root filesystem.
    pub async fn set_ssh_keys(
        &self,
        caller: &Principal,
        name: &str,
        request: SshKeysRequest,
    ) -> Result<(), AppError> {
        let record = self.instance_for(caller, name, Want::Write)?;
        if request.ssh_keys.len() > MAX_SSH_KEYS {
            return Err(FieldError::new(
                "ssh_keys",
                format!(
                    "{} keys; give at most {MAX_SSH_KEYS}",
                    request.ssh_keys.len()
                ),
            )
            .into());
        }
        let keys = request
            .ssh_keys
            .iter()
            .enumerate()
            .map(|(i, key)| validate_ssh_key(key, &format!("ssh_keys[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        let count = keys.len();
        match record.rootfs.clone() {
            Some(rootfs) => {
                let written = tokio::task::spawn_blocking(move || {
                    let root = Rootfs::open(&rootfs).map_err(CustomiseError::from)?;
                    berth_guestfs::customise::set_root_ssh_keys(&root, &keys)
                })
                .await
                .map_err(|e| AppError::internal("ssh keys task", e))?;
                written
                    .map_err(|e| AppError::internal("writing root's ssh keys", error_chain(&e)))?;
            }
            None => {
                let credentials = GuestCredentials {
                    password_hash: None,
                    ssh_keys: Some(keys),
                };
                self.runtime(&record.backend)?
                    .set_credentials(&record.name, &credentials)
                    .await
                    .map_err(|e| AppError::runtime("setting root's ssh keys", e))?;
            }
        }
        tracing::info!(instance = %record.name, keys = count, "root's ssh keys replaced");
        Ok(())
    }

    /// Writes credentials into a local guest's root filesystem; reloads its sshd when the
    /// login policy changed and it runs.
    async fn write_local_credentials(
        &self,
        record: &berth_store::InstanceRecord,
        rootfs: std::path::PathBuf,
        credentials: RootCredentials,
    ) -> Result<(), AppError> {
        let written =
            tokio::task::spawn_blocking(move || Self::write_credentials(&rootfs, &credentials))
                .await
                .map_err(|e| AppError::internal("password task", e))?;
        let policy_changed =
            written.map_err(|e| AppError::internal("writing the password", error_chain(&e)))?;
        // sshd reads its configuration at start: reload it so a new login policy applies now.
        // (A reload re-executes sshd, which refuses connections for a moment: only when needed.)
        let runtime = self.runtime(&record.backend)?;
        if policy_changed
            && let Ok(RuntimeStatus::Running { .. }) = runtime.status(&record.name).await
        {
            let reload = ExecSpec {
                argv: vec![
                    "systemctl".into(),
                    "try-reload-or-restart".into(),
                    "ssh.service".into(),
                ],
                env: Default::default(),
                cwd: None,
                stdin: None,
                timeout: std::time::Duration::from_secs(30),
                output_cap: 4096,
            };
            if let Err(e) = runtime.exec(&record.name, &reload).await {
                tracing::warn!(instance = %record.name, error = %error_chain(&e), "reloading sshd failed");
            }
        }
        Ok(())
    }
}
