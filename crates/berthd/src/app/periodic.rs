//! Background work that runs every so often for as long as berthd runs: the snapshot
//! scheduler, the image refresher, the remote-backend followers. The task holds the app weakly,
//! so it ends once the app is dropped; a late tick waits rather than bursting.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::App;

impl App {
    /// Spawns `work(app)` now and then every `every`, until the app is gone.
    pub(crate) fn spawn_every<F, Fut>(self: &Arc<Self>, every: Duration, work: F)
    where
        F: Fn(Arc<App>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send,
    {
        let app = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(app) = app.upgrade() else { return };
                work(app).await;
            }
        });
    }
}
