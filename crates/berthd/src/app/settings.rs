//! Host-wide settings: defaults for new instances and the metrics interval. Kept in the store
//! under one key and held in a watch channel, so readers (the create path, the metrics
//! collector) get the current value without a query and can wait for changes.

use berth_store::Store;
use berth_types::api::CreateInstanceRequest;
use berth_types::settings::Settings;

use super::access::{self, Want};
use super::{App, AppError, Principal};

/// The store key the settings live under.
const KEY: &str = "settings";

/// The stored settings, or the defaults when none were ever saved; `[metrics] interval` from
/// the configuration is the factory default of the metrics interval.
pub(super) fn load(store: &Store, interval_seconds: u32) -> Result<Settings, AppError> {
    Ok(store.get_setting::<Settings>(KEY)?.unwrap_or_else(|| {
        let mut settings = Settings::default();
        settings.metrics.interval_seconds = interval_seconds;
        settings
    }))
}

impl App {
    /// The current settings.
    pub fn settings(&self) -> Settings {
        self.settings.borrow().clone()
    }

    /// A receiver that sees every later change of the settings (e.g. the metrics interval).
    pub fn watch_settings(&self) -> tokio::sync::watch::Receiver<Settings> {
        self.settings.subscribe()
    }

    /// `PUT /settings`: checks every field, then stores and applies all of them; a bad field
    /// changes nothing.
    pub fn put_settings(
        &self,
        caller: &Principal,
        settings: Settings,
    ) -> Result<Settings, AppError> {
        access::admin(caller, Want::Write)?;
        settings.validate()?;
        if settings.defaults.disk.is_some() {
            self.storage.disk_limit_supported("defaults.disk")?;
        }
        // Stored and published under the channel's lock, so two concurrent PUTs cannot leave
        // the store and the live value disagreeing.
        let mut stored = Ok(());
        self.settings.send_if_modified(|current| {
            stored = self.store.set_setting(KEY, &settings);
            if stored.is_ok() {
                *current = settings.clone();
            }
            stored.is_ok()
        });
        stored?;
        tracing::info!(?settings, "settings changed");
        Ok(settings)
    }

    /// Fills what a create request left out from the settings' defaults.
    pub(crate) fn apply_defaults(&self, request: &mut CreateInstanceRequest) {
        let settings = self.settings.borrow();
        let defaults = &settings.defaults;
        if request.image.as_deref().is_none_or(str::is_empty) {
            request.image = Some(defaults.image.clone());
        }
        request.limits = defaults.limits().merged(&request.limits);
        if request.autostart.is_none() {
            request.autostart = Some(defaults.autostart);
        }
    }
}
