//! Reading metrics: an instance's or the host's history, and the OpenMetrics text.

use std::sync::Arc;

use berth_metrics::series::{HOST_SERIES, instance_series};
use berth_runtime::{MetricsSource, Runtime};
use berth_types::metrics::{Cf, MetricsHistory, Timeframe};

use crate::app::Principal;
use crate::app::access::{self, Want};
use crate::app::error::error_chain;
use crate::app::{App, AppError};

/// A history request's query values, unparsed.
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub timeframe: Option<String>,
    pub cf: Option<String>,
}

impl HistoryQuery {
    fn parse(&self) -> Result<(Timeframe, Cf), AppError> {
        let timeframe = Timeframe::parse(self.timeframe.as_deref().unwrap_or("hour"), "timeframe")?;
        let cf = Cf::parse(self.cf.as_deref().unwrap_or("avg"), "cf")?;
        Ok((timeframe, cf))
    }
}

impl App {
    /// `GET /instances/{name}/metrics`.
    pub async fn instance_metrics(
        self: &Arc<Self>,
        caller: &Principal,
        name: &str,
        query: &HistoryQuery,
    ) -> Result<MetricsHistory, AppError> {
        let (timeframe, cf) = query.parse()?;
        let record = self.instance_for(caller, name, Want::Read)?;
        if self.capabilities(&record.backend).metrics == MetricsSource::Backend {
            let runtime = self.runtime(&record.backend)?;
            return runtime
                .metrics_history(&record.name, timeframe, cf)
                .await
                .map_err(crate::app::error::backend_failed);
        }
        self.history(instance_series(record.name.as_str()), timeframe, cf)
            .await
    }

    /// `GET /system/metrics`.
    pub async fn system_metrics(
        self: &Arc<Self>,
        caller: &Principal,
        query: &HistoryQuery,
    ) -> Result<MetricsHistory, AppError> {
        access::admin(caller, Want::Read)?;
        let (timeframe, cf) = query.parse()?;
        self.history(HOST_SERIES.to_owned(), timeframe, cf).await
    }

    async fn history(
        self: &Arc<Self>,
        series: String,
        timeframe: Timeframe,
        cf: Cf,
    ) -> Result<MetricsHistory, AppError> {
        let app = self.clone();
        let now = chrono::Utc::now().timestamp();
        tokio::task::spawn_blocking(move || app.metrics.series.history(&series, timeframe, cf, now))
            .await
            .map_err(|e| AppError::internal("metrics task", e))?
            .map_err(|e| AppError::internal("reading metrics", error_chain(&e)))
    }

    /// `GET /metrics`: the last tick as OpenMetrics text.
    pub fn openmetrics(&self) -> String {
        berth_metrics::openmetrics::render(self.metrics.last_tick().as_deref())
    }
}
