//! Typed calls for the PVE endpoints Berth uses: cluster, containers, power, snapshots, metrics,
//! console tickets and templates.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Client, ProxmoxError};
use crate::upid::Upid;

/// One entry of `GET /cluster/resources` (nodes and guests).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterResource {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub node: Option<String>,
    #[serde(default)]
    pub vmid: Option<u64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub maxmem: Option<u64>,
    #[serde(default)]
    pub mem: Option<u64>,
    #[serde(default)]
    pub maxcpu: Option<f64>,
    #[serde(default)]
    pub cpu: Option<f64>,
    #[serde(default)]
    pub tags: Option<String>,
    #[serde(default)]
    pub uptime: Option<u64>,
}

/// One entry of `GET /cluster/status`: the cluster itself or one of its nodes, with the
/// address corosync resolved for it (`ip`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ClusterMember {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub ip: Option<String>,
}

/// `GET /nodes/{node}/lxc/{vmid}/status/current`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerStatus {
    /// `running` or `stopped`.
    pub status: String,
    #[serde(default)]
    pub vmid: Option<u64>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub pid: Option<i64>,
    #[serde(default)]
    pub maxmem: Option<u64>,
    #[serde(default)]
    pub mem: Option<u64>,
    #[serde(default)]
    pub cpus: Option<f64>,
    #[serde(default)]
    pub uptime: Option<u64>,
}

/// `GET /nodes/{node}/tasks/{upid}/status`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TaskStatus {
    /// `running` or `stopped`.
    pub status: String,
    /// `OK`, `WARNINGS: n`, or the error, once stopped.
    #[serde(default)]
    pub exitstatus: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct LogLine {
    pub n: u64,
    pub t: String,
}

/// One sample of `rrddata` (missing values are absent).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RrdPoint {
    pub time: i64,
    #[serde(default)]
    pub cpu: Option<f64>,
    #[serde(default)]
    pub maxcpu: Option<f64>,
    #[serde(default)]
    pub mem: Option<f64>,
    #[serde(default)]
    pub maxmem: Option<f64>,
    #[serde(default)]
    pub disk: Option<f64>,
    #[serde(default)]
    pub netin: Option<f64>,
    #[serde(default)]
    pub netout: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Snapshot {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub snaptime: Option<i64>,
    #[serde(default)]
    pub parent: Option<String>,
}

/// `POST …/termproxy`: a ticket for `vncwebsocket`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TermProxy {
    pub port: u16,
    pub ticket: String,
    pub upid: String,
    pub user: String,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct TemplateVolume {
    pub volid: String,
    #[serde(default)]
    pub size: Option<u64>,
}

/// The parameters of `POST /nodes/{node}/lxc` that Berth sets.
#[derive(Debug, Clone, Default)]
pub struct CreateContainer {
    pub vmid: u64,
    /// `local:vztmpl/debian-12-standard_12.7-1_amd64.tar.zst`.
    pub ostemplate: String,
    pub hostname: String,
    /// A crypt(3) hash (PVE stores a `$6$…` value as it is) or plain text.
    pub password: Option<String>,
    /// One key per line.
    pub ssh_public_keys: Option<String>,
    pub cores: Option<u32>,
    /// CPU time in cores (fractions allowed).
    pub cpulimit: Option<f64>,
    /// MiB.
    pub memory: Option<u64>,
    /// MiB.
    pub swap: Option<u64>,
    /// `STORAGE:SIZE_GiB`.
    pub rootfs: Option<String>,
    /// `name=eth0,bridge=vmbr0,ip=dhcp`.
    pub net0: Option<String>,
    pub unprivileged: bool,
    /// `nesting=1`.
    pub features: Option<String>,
    pub tags: Option<String>,
    pub description: Option<String>,
    /// PVE's `arch` (`amd64`, `arm64`, …); `None`: PVE's default (the template's).
    pub arch: Option<&'static str>,
}

impl CreateContainer {
    fn params(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("vmid", self.vmid.to_string()),
            ("ostemplate", self.ostemplate.clone()),
            ("hostname", self.hostname.clone()),
            ("unprivileged", u8::from(self.unprivileged).to_string()),
        ];
        let optional = [
            ("password", self.password.clone()),
            ("ssh-public-keys", self.ssh_public_keys.clone()),
            ("cores", self.cores.map(|c| c.to_string())),
            ("cpulimit", self.cpulimit.map(|c| c.to_string())),
            ("memory", self.memory.map(|m| m.to_string())),
            ("swap", self.swap.map(|m| m.to_string())),
            ("rootfs", self.rootfs.clone()),
            ("net0", self.net0.clone()),
            ("features", self.features.clone()),
            ("tags", self.tags.clone()),
            ("description", self.description.clone()),
            ("arch", self.arch.map(str::to_owned)),
        ];
        p.extend(optional.into_iter().filter_map(|(k, v)| v.map(|v| (k, v))));
        p
    }
}

fn upid(endpoint: &str, data: Value) -> Result<Upid, ProxmoxError> {
    let text = data.as_str().unwrap_or_default();
    Upid::parse(text).map_err(|e| ProxmoxError::Decode {
        endpoint: endpoint.to_owned(),
        cause: e.to_string(),
    })
}

impl Client {
    /// `GET /version`: the cheapest call that proves PVE answers and the token works.
    pub async fn version(&self) -> Result<Value, ProxmoxError> {
        self.call("GET", "/version", &[]).await
    }

    pub async fn resources(
        &self,
        kind: Option<&str>,
    ) -> Result<Vec<ClusterResource>, ProxmoxError> {
        let params: Vec<(&str, String)> =
            kind.map(|k| ("type", k.to_owned())).into_iter().collect();
        self.call_as("GET", "/cluster/resources", &params).await
    }

    /// `GET /cluster/status`: the cluster and its nodes with their addresses.
    pub async fn cluster_status(&self) -> Result<Vec<ClusterMember>, ProxmoxError> {
        self.call_as("GET", "/cluster/status", &[]).await
    }

    /// `GET /cluster/nextid` (PVE answers a string).
    pub async fn next_id(&self) -> Result<u64, ProxmoxError> {
        let data = self.call("GET", "/cluster/nextid", &[]).await?;
        data.as_str()
            .and_then(|s| s.parse().ok())
            .or_else(|| data.as_u64())
            .ok_or_else(|| ProxmoxError::Decode {
                endpoint: "GET /cluster/nextid".into(),
                cause: format!("not a vmid: {data}"),
            })
    }

    pub async fn templates(
        &self,
        node: &str,
        storage: &str,
    ) -> Result<Vec<TemplateVolume>, ProxmoxError> {
        let path = format!("/nodes/{node}/storage/{storage}/content");
        self.call_as("GET", &path, &[("content", "vztmpl".into())])
            .await
    }

    pub async fn create_container(
        &self,
        node: &str,
        spec: &CreateContainer,
    ) -> Result<Upid, ProxmoxError> {
        let path = format!("/nodes/{node}/lxc");
        upid(
            &format!("POST {path}"),
            self.call("POST", &path, &spec.params()).await?,
        )
    }

    pub async fn container_status(
        &self,
        node: &str,
        vmid: u64,
    ) -> Result<ContainerStatus, ProxmoxError> {
        let path = format!("/nodes/{node}/lxc/{vmid}/status/current");
        self.call_as("GET", &path, &[]).await
    }

    /// `POST …/status/{start|stop|shutdown|reboot|suspend|resume}`.
    pub async fn power(
        &self,
        node: &str,
        vmid: u64,
        verb: &str,
        params: &[(&str, String)],
    ) -> Result<Upid, ProxmoxError> {
        let path = format!("/nodes/{node}/lxc/{vmid}/status/{verb}");
        upid(
            &format!("POST {path}"),
            self.call("POST", &path, params).await?,
        )
    }

    /// `POST …/migrate` to `target`; a running container is restarted there (`restart=1`).
    pub async fn migrate_container(
        &self,
        node: &str,
        vmid: u64,
        target: &str,
    ) -> Result<Upid, ProxmoxError> {
        let path = format!("/nodes/{node}/lxc/{vmid}/migrate");
        let params = [("target", target.to_owned()), ("restart", "1".to_owned())];
        upid(
            &format!("POST {path}"),
            self.call("POST", &path, &params).await?,
        )
    }

    pub async fn delete_container(&self, node: &str, vmid: u64) -> Result<Upid, ProxmoxError> {
        let path = format!("/nodes/{node}/lxc/{vmid}");
        let params = [("purge", "1".to_owned()), ("force", "1".to_owned())];
        upid(
            &format!("DELETE {path}"),
            self.call("DELETE", &path, &params).await?,
        )
    }

    /// `GET …/config`: the container's configuration (`hostname`, `description`, `tags`, …).
    pub async fn container_config(&self, node: &str, vmid: u64) -> Result<Value, ProxmoxError> {
        let path = format!("/nodes/{node}/lxc/{vmid}/config");
        self.call("GET", &path, &[]).await
    }

    /// `PUT …/config` (cores, memory, swap): applied at once, no task.
    pub async fn set_config(
        &self,
        node: &str,
        vmid: u64,
        params: &[(&str, String)],
    ) -> Result<(), ProxmoxError> {
        let path = format!("/nodes/{node}/lxc/{vmid}/config");
        self.call("PUT", &path, params).await.map(drop)
    }

    /// `GET …/rrddata?timeframe=hour|day|week|month|year&cf=AVERAGE|MAX`.
    pub async fn rrddata(
        &self,
        node: &str,
        vmid: u64,
        timeframe: &str,
        cf: &str,
    ) -> Result<Vec<RrdPoint>, ProxmoxError> {
        let path = format!("/nodes/{node}/lxc/{vmid}/rrddata");
        let params = [("timeframe", timeframe.to_owned()), ("cf", cf.to_owned())];
        self.call_as("GET", &path, &params).await
    }

    pub async fn snapshots(&self, node: &str, vmid: u64) -> Result<Vec<Snapshot>, ProxmoxError> {
        let path = format!("/nodes/{node}/lxc/{vmid}/snapshot");
        self.call_as("GET", &path, &[]).await
    }

    pub async fn create_snapshot(
        &self,
        node: &str,
        vmid: u64,
        name: &str,
        description: Option<&str>,
    ) -> Result<Upid, ProxmoxError> {
        let path = format!("/nodes/{node}/lxc/{vmid}/snapshot");
        let mut params = vec![("snapname", name.to_owned())];
        if let Some(d) = description {
            params.push(("description", d.to_owned()));
        }
        upid(
            &format!("POST {path}"),
            self.call("POST", &path, &params).await?,
        )
    }

    pub async fn delete_snapshot(
        &self,
        node: &str,
        vmid: u64,
        name: &str,
    ) -> Result<Upid, ProxmoxError> {
        let path = format!("/nodes/{node}/lxc/{vmid}/snapshot/{name}");
        upid(
            &format!("DELETE {path}"),
            self.call("DELETE", &path, &[]).await?,
        )
    }

    pub async fn rollback_snapshot(
        &self,
        node: &str,
        vmid: u64,
        name: &str,
    ) -> Result<Upid, ProxmoxError> {
        let path = format!("/nodes/{node}/lxc/{vmid}/snapshot/{name}/rollback");
        upid(
            &format!("POST {path}"),
            self.call("POST", &path, &[]).await?,
        )
    }

    pub async fn termproxy(&self, node: &str, vmid: u64) -> Result<TermProxy, ProxmoxError> {
        let path = format!("/nodes/{node}/lxc/{vmid}/termproxy");
        self.call_as("POST", &path, &[]).await
    }

    pub async fn task_status(&self, upid: &Upid) -> Result<TaskStatus, ProxmoxError> {
        let path = format!(
            "/nodes/{}/tasks/{}/status",
            upid.node,
            encode(upid.as_str())
        );
        self.call_as("GET", &path, &[]).await
    }

    pub async fn task_log(
        &self,
        upid: &Upid,
        start: u64,
        limit: u64,
    ) -> Result<Vec<LogLine>, ProxmoxError> {
        let path = format!("/nodes/{}/tasks/{}/log", upid.node, encode(upid.as_str()));
        let params = [("start", start.to_string()), ("limit", limit.to_string())];
        self.call_as("GET", &path, &params).await
    }
}

/// A path segment, percent-encoded (UPIDs hold `:` and `!`).
pub(crate) fn encode(segment: &str) -> String {
    percent_encoding::utf8_percent_encode(segment, percent_encoding::NON_ALPHANUMERIC).to_string()
}
