//! Quotas in the app layer: what an instance, snapshot or forward holds in its owner's ledger.
//! Targets nest under their instance (`instance:<id>`, `instance:<id>:snapshot:<name>`,
//! `instance:<id>:forward:<id>`) so deleting an instance frees everything it held at once.
//! Reservations are made before anything is created (one atomic check against the limit) and
//! given back when the creation fails.

use berth_auth::Usage;
use berth_store::InstanceRecord;
use berth_types::Limits;
use uuid::Uuid;

use super::{App, AppError};

/// What the ledger calls an instance.
pub(crate) fn instance_target(id: Uuid) -> String {
    format!("instance:{id}")
}

pub(crate) fn snapshot_target(instance: Uuid, snapshot: &str) -> String {
    format!("instance:{instance}:snapshot:{snapshot}")
}

pub(crate) fn forward_target(instance: Uuid, forward: Uuid) -> String {
    format!("instance:{instance}:forward:{forward}")
}

impl App {
    /// The ledger's user id for an owner username; `None` for an owner without an account
    /// (nothing to count against).
    pub(crate) fn owner_id(&self, owner: &str) -> Result<Option<Uuid>, AppError> {
        Ok(self.auth.db().user_by_name(owner)?.map(|u| u.id))
    }

    /// Reserves (or resizes) an instance with `limits` in its owner's quota.
    pub(crate) fn reserve_instance(
        &self,
        owner: &str,
        instance: Uuid,
        limits: &Limits,
    ) -> Result<(), AppError> {
        let Some(user) = self.auth.db().user_by_name(owner)? else {
            return Ok(());
        };
        user.quota.require_limits(limits)?;
        self.auth.db().reserve(
            user.id,
            &instance_target(instance),
            &Usage::instance(limits),
        )?;
        Ok(())
    }

    /// Counts one more snapshot of `instance`.
    pub(crate) fn reserve_snapshot(
        &self,
        owner: &str,
        instance: Uuid,
        snapshot: &str,
    ) -> Result<(), AppError> {
        let Some(user) = self.owner_id(owner)? else {
            return Ok(());
        };
        let one = Usage {
            snapshots: 1,
            ..Usage::default()
        };
        self.auth
            .db()
            .reserve(user, &snapshot_target(instance, snapshot), &one)?;
        Ok(())
    }

    /// Counts one more forward, from host ports `first..=last` the owner may use.
    pub(crate) fn reserve_forward(
        &self,
        owner: &str,
        instance: Uuid,
        forward: Uuid,
        ports: (u16, u16),
    ) -> Result<(), AppError> {
        let Some(user) = self.auth.db().user_by_name(owner)? else {
            return Ok(());
        };
        user.quota.check_port(ports.0)?;
        user.quota.check_port(ports.1)?;
        let one = Usage {
            forwards: 1,
            ..Usage::default()
        };
        self.auth
            .db()
            .reserve(user.id, &forward_target(instance, forward), &one)?;
        Ok(())
    }

    /// Gives back what `target` (and everything under it) held. Failures are logged: the
    /// ledger is rebuilt from what exists at the next start.
    pub(crate) fn release_quota(&self, owner: &str, target: &str) {
        let released = self.owner_id(owner).and_then(|id| match id {
            Some(id) => Ok(self.auth.db().release_under(id, target)?),
            None => Ok(0),
        });
        if let Err(e) = released {
            tracing::warn!(owner, target, error = %e, "cannot give back a quota reservation");
        }
    }

    /// At start, when nothing is under way: the ledger becomes exactly what exists.
    pub(super) fn rebuild_quota_ledger(&self) -> Result<(), AppError> {
        let mut held = Vec::new();
        for record in self.store.list_instances()? {
            let Some(user) = self.owner_id(&record.owner)? else {
                continue;
            };
            held.extend(self.holdings(user, &record)?);
        }
        self.auth.db().rebuild_ledger(&held)?;
        Ok(())
    }

    fn holdings(
        &self,
        user: Uuid,
        record: &InstanceRecord,
    ) -> Result<Vec<(Uuid, String, Usage)>, AppError> {
        let mut held = vec![(
            user,
            instance_target(record.id),
            Usage::instance(&record.limits),
        )];
        for snapshot in self.store.list_snapshots(&record.name)? {
            let one = Usage {
                snapshots: 1,
                ..Usage::default()
            };
            held.push((user, snapshot_target(record.id, &snapshot.name), one));
        }
        for forward in self.store.list_forwards(Some(&record.name))? {
            let one = Usage {
                forwards: 1,
                ..Usage::default()
            };
            held.push((user, forward_target(record.id, forward.id), one));
        }
        Ok(held)
    }
}
