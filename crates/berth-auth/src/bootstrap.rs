//! The first start: with no user at all, create `admin` with the configured password or a
//! random one, which is returned (for the daemon to log once) and written to
//! `<data_dir>/initial-admin-password`, created with mode 0600.

use std::path::{Path, PathBuf};

use berth_types::credentials::generate_password;

use crate::files::{self, FileError};
use crate::{AuthDb, Quota, Role, Secret, User, UserError};

/// The file the generated password is written to.
pub const PASSWORD_FILE: &str = "initial-admin-password";
/// The first admin's username.
pub const ADMIN: &str = "admin";

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error("the configured initial admin password is not acceptable: {0}")]
    Configured(#[source] UserError),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    File(#[from] FileError),
}

/// What the first start created.
#[derive(Debug, Clone)]
pub struct InitialAdmin {
    pub user: User,
    /// The generated password, to log once; `None` when it was configured.
    pub generated_password: Option<Secret>,
    /// Where the generated password was written.
    pub password_file: Option<PathBuf>,
}

/// Creates `admin` if there are no users yet; `None` if there were.
pub fn ensure_initial_admin(
    db: &AuthDb,
    data_dir: &Path,
    configured_password: Option<&str>,
) -> Result<Option<InitialAdmin>, BootstrapError> {
    if db.user_count()? > 0 {
        return Ok(None);
    }
    if let Some(password) = configured_password {
        return match db.create_user(ADMIN, password, Role::Admin, Quota::default()) {
            Ok(user) => Ok(Some(InitialAdmin {
                user,
                generated_password: None,
                password_file: None,
            })),
            // Another daemon on the same database got there first.
            Err(UserError::Taken(_)) => Ok(None),
            Err(e @ (UserError::Invalid(_) | UserError::Password(_))) => {
                Err(BootstrapError::Configured(e))
            }
            Err(e) => Err(e.into()),
        };
    }
    let password = generate_password();
    let user = match db.create_user(ADMIN, &password, Role::Admin, Quota::default()) {
        Ok(user) => user,
        Err(UserError::Taken(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let path = data_dir.join(PASSWORD_FILE);
    if let Err(e) = files::write_private(&path, format!("{password}\n").as_bytes()) {
        // Undo, so that the next start tries again instead of leaving an unknown password.
        let _ = db.delete_user_unchecked(user.id);
        return Err(e.into());
    }
    Ok(Some(InitialAdmin {
        user,
        generated_password: Some(Secret::new(password)),
        password_file: Some(path),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::temp_db;

    #[test]
    fn first_start_generates_and_writes_0600_once() -> Result<(), Box<dyn std::error::Error>> {
        let (dir, db) = temp_db();
        let created = ensure_initial_admin(&db, dir.path(), None)?.ok_or("not created")?;
        let password = created.generated_password.clone().ok_or("no password")?;
        assert!(!format!("{created:?}").contains(password.expose()));
        let path = dir.path().join(PASSWORD_FILE);
        assert_eq!(created.password_file.as_deref(), Some(path.as_path()));
        assert_eq!(files::mode(&path), 0o600);
        assert_eq!(std::fs::read_to_string(&path)?.trim(), password.expose());
        assert_eq!(
            db.verify_credentials(ADMIN, password.expose())?.role,
            Role::Admin
        );
        assert!(ensure_initial_admin(&db, dir.path(), None)?.is_none());
        assert!(ensure_initial_admin(&db, dir.path(), Some("correct horse"))?.is_none());
        Ok(())
    }

    #[test]
    fn a_configured_password_is_used_and_checked() -> Result<(), Box<dyn std::error::Error>> {
        let (dir, db) = temp_db();
        let err = ensure_initial_admin(&db, dir.path(), Some("password")).expect_err("weak");
        assert!(err.to_string().contains("password"), "{err}");
        let created = ensure_initial_admin(&db, dir.path(), Some("correct horse"))?;
        assert!(created.is_some_and(|c| c.generated_password.is_none()));
        assert!(!dir.path().join(PASSWORD_FILE).exists());
        db.verify_credentials(ADMIN, "correct horse")?;
        Ok(())
    }

    #[test]
    fn an_unwritable_data_dir_leaves_no_admin() -> Result<(), Box<dyn std::error::Error>> {
        let (dir, db) = temp_db();
        let missing = dir.path().join("no/such/dir");
        assert!(ensure_initial_admin(&db, &missing, None).is_err());
        assert_eq!(db.user_count()?, 0);
        Ok(())
    }
}
