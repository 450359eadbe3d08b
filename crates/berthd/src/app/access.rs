//! Who may touch what, checked by the app itself. Every app method a request reaches takes the
//! caller (omicron's `OpContext`: here the authenticated [`Principal`], with its role and its
//! credential's scope), so the app is safe without the HTTP guard in front of it: tests, and
//! any later front end, call it directly. The guard asks the same questions through the same
//! functions first, before a body is parsed, so a stranger learns nothing from validation.

use berth_auth::{Denied, Principal};
use berth_store::InstanceRecord;
use uuid::Uuid;

use super::{App, AppError};

/// What a caller wants to do with a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Read,
    /// Change it: refused to read-only credentials.
    Write,
}

impl Want {
    pub fn writes(self) -> bool {
        self == Want::Write
    }
}

/// The daemon itself, for what it starts on its own (autostart, scheduled backups): an admin
/// that is no account.
pub(crate) fn daemon() -> Principal {
    Principal {
        user_id: Uuid::nil(),
        username: "berthd".into(),
        role: berth_auth::Role::Admin,
        scope: berth_auth::Scope::Full,
        via: berth_auth::Via::Socket,
    }
}

/// Refused unless `caller` is an admin (with a full-scope credential to change things).
pub fn admin(caller: &Principal, want: Want) -> Result<(), AppError> {
    Ok(caller.authorize_admin(want.writes())?)
}

/// Refused when `caller` wants to change their own things with a read-only credential.
pub fn own(caller: &Principal, want: Want) -> Result<(), AppError> {
    match want {
        Want::Read => Ok(()),
        Want::Write => Ok(caller.authorize_write(&caller.username)?),
    }
}

/// Whether `caller` may `want` a resource of `owner`; someone else's is `NotFound(what)`, the
/// answer a missing one gets.
pub fn owned_by(caller: &Principal, owner: &str, want: Want, what: &str) -> Result<(), AppError> {
    let allowed = match want {
        Want::Read => caller.authorize_read(owner),
        Want::Write => caller.authorize_write(owner),
    };
    match allowed {
        Err(Denied::Hidden) => Err(AppError::NotFound(what.to_owned())),
        other => Ok(other?),
    }
}

impl App {
    /// The record of instance `name` if `caller` may `want` it (404 otherwise, as if missing).
    pub(crate) fn instance_for(
        &self,
        caller: &Principal,
        name: &str,
        want: Want,
    ) -> Result<InstanceRecord, AppError> {
        let record = self.instance_record(name)?;
        owned_by(caller, &record.owner, want, &format!("instance {name}"))?;
        Ok(record)
    }

    /// Refused unless `caller` may `want` instance `name`; a missing one passes (the method
    /// that follows says it is missing).
    pub fn authorize_instance(
        &self,
        caller: &Principal,
        name: &str,
        want: Want,
    ) -> Result<(), AppError> {
        match self.instance_owner(name)? {
            Some(owner) => owned_by(caller, &owner, want, &format!("instance {name}")),
            None => Ok(()),
        }
    }

    /// Refused unless `caller` may `want` operation `id`; a missing one passes.
    pub fn authorize_operation(
        &self,
        caller: &Principal,
        id: &str,
        want: Want,
    ) -> Result<(), AppError> {
        let owner = match Uuid::parse_str(id) {
            Ok(id) => self.store.get_operation(id)?.map(|r| r.operation.owner),
            Err(_) => None,
        };
        match owner {
            Some(owner) => owned_by(caller, &owner, want, &format!("operation {id}")),
            None => Ok(()),
        }
    }
}
