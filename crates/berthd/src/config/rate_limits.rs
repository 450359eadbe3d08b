//! `[rate_limits.user]` and `[rate_limits.admin]`: how often one account may make each kind of
//! expensive call, as `COUNT/UNIT` (`"30/hour"`, `"60/min"`; `"0"` is unlimited). A burst of
//! COUNT is allowed, then one more each UNIT/COUNT; past it the answer is 429 with
//! `Retry-After`.

use berth_auth::Rate;
use serde::Deserialize;

/// The kinds of expensive calls, each with its own bucket per account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CallClass {
    /// `POST /instances` (create or import), `POST /run`.
    Create,
    /// `POST /images`, `POST /images/import`.
    ImageBuild,
    /// `POST /instances/{name}/backups`.
    Backup,
    /// Exec, consoles and file transfers into a guest.
    Exec,
    /// Every other long operation: power, delete, snapshots, restores.
    Operation,
}

impl CallClass {
    pub const ALL: [CallClass; 5] = [
        CallClass::Create,
        CallClass::ImageBuild,
        CallClass::Backup,
        CallClass::Exec,
        CallClass::Operation,
    ];

    /// What a 429 says there were too many of.
    pub fn noun(self) -> &'static str {
        match self {
            Self::Create => "instance creates",
            Self::ImageBuild => "image builds",
            Self::Backup => "backups",
            Self::Exec => "commands",
            Self::Operation => "operations",
        }
    }

    /// The configuration key.
    pub fn key(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::ImageBuild => "image_build",
            Self::Backup => "backup",
            Self::Exec => "exec",
            Self::Operation => "operation",
        }
    }
}

/// One set of rates.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rates {
    pub create: String,
    pub image_build: String,
    pub backup: String,
    pub exec: String,
    pub operation: String,
}

impl Rates {
    fn raw(&self, class: CallClass) -> &str {
        match class {
            CallClass::Create => &self.create,
            CallClass::ImageBuild => &self.image_build,
            CallClass::Backup => &self.backup,
            CallClass::Exec => &self.exec,
            CallClass::Operation => &self.operation,
        }
    }

    /// The rate of `class`; `None` is unlimited (validated at load, so never an error here).
    pub fn rate(&self, class: CallClass) -> Option<Rate> {
        Rate::parse(self.raw(class)).ok().flatten()
    }

    fn unlimited() -> Self {
        Self {
            create: "0".into(),
            image_build: "0".into(),
            backup: "0".into(),
            exec: "0".into(),
            operation: "0".into(),
        }
    }
}

impl Default for Rates {
    /// An ordinary user's rates.
    fn default() -> Self {
        Self {
            create: "30/hour".into(),
            image_build: "6/hour".into(),
            backup: "12/hour".into(),
            exec: "120/min".into(),
            operation: "240/hour".into(),
        }
    }
}

/// `[rate_limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitsConfig {
    /// Ordinary users.
    pub user: Rates,
    /// Admins, root on the socket included; unlimited by default.
    pub admin: Rates,
}

impl Default for RateLimitsConfig {
    fn default() -> Self {
        Self {
            user: Rates::default(),
            admin: Rates::unlimited(),
        }
    }
}

impl RateLimitsConfig {
    pub fn validate(&self) -> Result<(), String> {
        for (who, rates) in [("user", &self.user), ("admin", &self.admin)] {
            for class in CallClass::ALL {
                Rate::parse(rates.raw(class))
                    .map_err(|e| format!("rate_limits.{who}.{}: {e}", class.key()))?;
            }
        }
        Ok(())
    }

    pub fn rates(&self, admin: bool) -> &Rates {
        if admin { &self.admin } else { &self.user }
    }
}
