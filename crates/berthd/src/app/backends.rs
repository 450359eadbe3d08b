//! The backend registry: which backend each name stands for (`builtin` → the embedded runtime,
//! `proxmox` → the PVE client, …), which are offered and usable here, and which one a new
//! instance goes to (routing), with the runtime tool it runs under where its backend offers a
//! choice (oci: crun or runc). With config parsing, the only place a backend's name is looked
//! at; everything else asks the backend itself (`Runtime::capabilities`,
//! `Runtime::runtime_tools`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use berth_runtime::{AnyRuntime, Capabilities, RootfsSource, Runtime};
use berth_types::{BackendName, FieldError, InstanceName};

use super::AppError;
use crate::config::Config;

pub struct Backends {
    runtimes: BTreeMap<BackendName, AnyRuntime>,
    /// Backends Berth has but this berthd is not set up for, with what to do about it; listed
    /// as unusable, refused by name.
    unconfigured: BTreeMap<BackendName, &'static str>,
    default: BackendName,
    /// `[[routing]]`: the first rule whose pattern matches the instance name wins.
    routing: Vec<Rule>,
    /// The local backend an imported backup lands on when routing picks one that keeps its
    /// own root filesystem.
    local: BackendName,
}

/// One `[[routing]]` rule.
struct Rule {
    pattern: String,
    backend: BackendName,
    /// The runtime tool its instances run under (`None`: the backend's default).
    runtime: Option<String>,
}

fn name(raw: &'static str) -> BackendName {
    BackendName::parse(raw).unwrap_or_else(|_| unreachable!("{raw} is a valid backend name"))
}

impl Backends {
    /// Every backend this berthd offers, from `config`.
    pub fn new(config: &Config) -> Result<Self, AppError> {
        let shim =
            std::env::current_exe().unwrap_or_else(|_| PathBuf::from("/usr/local/bin/berthd"));
        let tool = |state: &str| berth_runtime::local::LocalConfig {
            state_root: config.runtime_dir.join(state),
            shim_command: vec![shim.clone().into_os_string(), "shim".into()],
        };
        let mut runtimes = BTreeMap::new();
        runtimes.insert(
            name("builtin"),
            AnyRuntime::Builtin(berth_runtime::builtin::BuiltinRuntime::new(tool("runtime"))),
        );
        runtimes.insert(
            name("nspawn"),
            AnyRuntime::Nspawn(berth_runtime::nspawn::NspawnRuntime::new(tool("nspawn"))),
        );
        runtimes.insert(
            name("lxc"),
            AnyRuntime::Lxc(berth_runtime::lxc::LxcRuntime::new(
                config.runtime_dir.join("lxc"),
            )),
        );
        let oci = berth_runtime::oci::OciTool::parse(&config.oci.runtime).unwrap_or_default();
        runtimes.insert(
            name("oci"),
            AnyRuntime::Oci(berth_runtime::oci::OciRuntime::new(tool("oci"), oci)),
        );
        if config.testing.sim_backend {
            runtimes.insert(
                name("sim"),
                AnyRuntime::Sim(berth_runtime::sim::SimRuntime::new()),
            );
        }
        let mut unconfigured = BTreeMap::new();
        match &config.proxmox {
            Some(proxmox) => {
                let settings = proxmox.settings().map_err(AppError::Internal)?;
                let runtime = berth_runtime::proxmox::ProxmoxRuntime::new(settings)
                    .map_err(|e| AppError::Internal(e.to_string()))?;
                runtimes.insert(name("proxmox"), AnyRuntime::Proxmox(Box::new(runtime)));
            }
            None => {
                unconfigured.insert(name("proxmox"), "not configured: add a [proxmox] section");
            }
        }
        let routing = config
            .routing
            .iter()
            .map(|rule| Rule {
                pattern: rule.pattern.clone(),
                backend: rule.backend.clone(),
                runtime: rule.runtime.clone(),
            })
            .collect();
        let backends = Self {
            runtimes,
            unconfigured,
            default: config.default_backend.clone(),
            routing,
            local: name("builtin"),
        };
        backends.check_rules()?;
        Ok(backends)
    }

    /// Every rule's `runtime` is one its backend offers (whether it is installed is a
    /// create's question: the host may change).
    fn check_rules(&self) -> Result<(), AppError> {
        for (i, rule) in self.routing.iter().enumerate() {
            if let Some(runtime) = &rule.runtime {
                self.check_tool_name(&rule.backend, runtime)
                    .map_err(|why| AppError::Internal(format!("routing[{i}].runtime: {why}")))?;
            }
        }
        Ok(())
    }

    /// Whether `backend` offers the runtime tool `asked` (known by name, not probed), or why
    /// not.
    fn check_tool_name(&self, backend: &BackendName, asked: &str) -> Result<(), String> {
        let tools = self
            .runtimes
            .get(backend)
            .map(Runtime::runtime_tools)
            .unwrap_or_default();
        if tools.is_empty() {
            let offering: Vec<String> = self
                .runtimes
                .iter()
                .filter(|(_, r)| !r.runtime_tools().is_empty())
                .map(|(n, r)| format!("{n} ({})", r.runtime_tools().join(", ")))
                .collect();
            return Err(format!(
                "backend {backend} has no runtime to choose; runtime applies only to backend {}",
                offering.join(", ")
            ));
        }
        if !tools.contains(&asked) {
            return Err(format!(
                "{asked:?} is not a runtime of backend {backend}; use one of {}",
                tools.join(", ")
            ));
        }
        Ok(())
    }

    /// The backend called `name`, or a 400 naming the field: unknown here (with the ones
    /// offered), or not usable on this host (with the reason).
    pub fn get(&self, name: &BackendName) -> Result<&AnyRuntime, AppError> {
        if let Some(reason) = self.unconfigured.get(name) {
            return Err(FieldError::new(
                "backend",
                format!("backend {name} is not usable here: {reason}"),
            )
            .into());
        }
        let runtime = self.runtimes.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.runtimes.keys().map(BackendName::as_str).collect();
            FieldError::new(
                "backend",
                format!(
                    "unknown backend {:?}; this berthd offers: {}",
                    name.as_str(),
                    known.join(", ")
                ),
            )
        })?;
        runtime.check_usable().map_err(|reason| {
            FieldError::new(
                "backend",
                format!("backend {name} is not usable here: {reason}"),
            )
        })?;
        Ok(runtime)
    }

    /// The backend called `name`, usable or not; `None` when this berthd does not offer it.
    pub fn find(&self, name: &BackendName) -> Option<&AnyRuntime> {
        self.runtimes.get(name)
    }

    /// What `name` can do. A backend this berthd does not offer (any more) is taken to be a
    /// local one: every local cleanup is idempotent, so removing its traces is safe.
    pub fn capabilities(&self, name: &BackendName) -> Capabilities {
        self.runtimes
            .get(name)
            .map_or(Capabilities::LOCAL, Runtime::capabilities)
    }

    /// Every backend offered, usable or not.
    pub fn offered(&self) -> impl Iterator<Item = (&BackendName, &AnyRuntime)> {
        self.runtimes.iter()
    }

    /// Every backend, offered or only known (not configured), in name order, each with
    /// whether it is usable here or why not (`GET /system`, readiness).
    pub fn usability(&self) -> Vec<(&BackendName, Result<(), String>)> {
        let mut all: Vec<(&BackendName, Result<(), String>)> = self
            .runtimes
            .iter()
            .map(|(name, runtime)| (name, runtime.check_usable()))
            .chain(
                self.unconfigured
                    .iter()
                    .map(|(name, reason)| (name, Err((*reason).to_owned()))),
            )
            .collect();
        all.sort_by(|a, b| a.0.cmp(b.0));
        all
    }

    pub fn default_name(&self) -> &BackendName {
        &self.default
    }

    /// The backend for a new instance: the one asked for, else the first routing rule whose
    /// pattern matches the name, else the default.
    pub fn route(&self, instance: &InstanceName, asked: Option<&BackendName>) -> BackendName {
        if let Some(asked) = asked {
            return asked.clone();
        }
        self.rule_for(instance)
            .map_or_else(|| self.default.clone(), |rule| rule.backend.clone())
    }

    fn rule_for(&self, instance: &InstanceName) -> Option<&Rule> {
        self.routing
            .iter()
            .find(|rule| glob_match(&rule.pattern, instance.as_str()))
    }

    /// The runtime tool a new instance on `backend` runs under: `asked`, else the runtime of
    /// the routing rule matching `instance` when that rule names `backend`, else the
    /// backend's default; `None` on a backend without a choice. A 400 naming `runtime` when
    /// the backend has no choice, does not know the tool or the tool is not installed; one
    /// naming `backend` when the backend is unknown or unusable.
    pub fn choose_runtime(
        &self,
        instance: &InstanceName,
        backend: &BackendName,
        asked: Option<&str>,
    ) -> Result<Option<String>, AppError> {
        if !self.runtimes.contains_key(backend) {
            // The 400 naming `backend`: unknown here, or not configured.
            return self.get(backend).map(|_| None);
        }
        if let Some(asked) = asked {
            self.check_tool_name(backend, asked)
                .map_err(|why| FieldError::new("runtime", why))?;
        }
        let runtime = self.get(backend)?;
        let from_rule = self
            .rule_for(instance)
            .filter(|rule| &rule.backend == backend)
            .and_then(|rule| rule.runtime.as_deref());
        let chosen = runtime
            .choose_runtime_tool(asked.or(from_rule))
            .map_err(|why| {
                let source = match (asked, from_rule) {
                    (None, Some(_)) => " (from the routing rule matching the name)",
                    _ => "",
                };
                FieldError::new("runtime", format!("{why}{source}"))
            })?;
        Ok(chosen.map(str::to_owned))
    }

    /// The backend an imported backup becomes an instance of: routed like a new instance,
    /// as long as that backend runs a root filesystem Berth keeps (the archive holds one);
    /// else the embedded runtime.
    pub fn route_import(&self, instance: &InstanceName) -> BackendName {
        let routed = self.route(instance, None);
        match self.capabilities(&routed).rootfs {
            RootfsSource::Local if self.runtimes.contains_key(&routed) => routed,
            _ => self.local.clone(),
        }
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((prefix, rest)) => {
            let Some(tail) = text.strip_prefix(prefix) else {
                return false;
            };
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && glob_match(rest, &tail[i..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A config with the sim backend, `default` and rules of (pattern, backend, runtime).
    fn config(
        routing: &[(&str, &str, Option<&str>)],
        default: &str,
    ) -> Result<Config, Box<dyn std::error::Error>> {
        let mut config = Config::default();
        config.testing.sim_backend = true;
        config.default_backend = BackendName::parse(default)?;
        for (pattern, backend, runtime) in routing {
            config.routing.push(crate::config::RoutingRule {
                pattern: (*pattern).to_owned(),
                backend: BackendName::parse(backend)?,
                runtime: runtime.map(str::to_owned),
            });
        }
        Ok(config)
    }

    fn instance(raw: &str) -> Result<InstanceName, FieldError> {
        InstanceName::parse(raw)
    }

    #[test]
    fn routing_picks_the_asked_then_the_first_matching_rule_then_the_default()
    -> Result<(), Box<dyn std::error::Error>> {
        let backends = Backends::new(&config(
            &[("ct-*", "lxc", None), ("ct-web*", "oci", None)],
            "builtin",
        )?)?;
        assert_eq!(backends.route(&instance("ct-web")?, None).as_str(), "lxc");
        assert_eq!(backends.route(&instance("web")?, None).as_str(), "builtin");
        let nspawn = BackendName::parse("nspawn")?;
        assert_eq!(backends.route(&instance("ct-web")?, Some(&nspawn)), nspawn);
        assert!(glob_match("*-db-*", "pg-db-1"));
        assert!(!glob_match("ct-*", "xct-1"));
        Ok(())
    }

    #[test]
    fn runtimes_are_only_for_backends_that_offer_them() -> Result<(), Box<dyn std::error::Error>> {
        let backends = Backends::new(&config(&[("ct-*", "oci", Some("runc"))], "sim")?)?;
        let sim = BackendName::parse("sim")?;
        let oci = BackendName::parse("oci")?;
        // No choice on sim: asked is a 400 naming runtime; not asked is none.
        let Err(AppError::Invalid(err)) =
            backends.choose_runtime(&instance("web")?, &sim, Some("crun"))
        else {
            return Err("sim took a runtime".into());
        };
        assert_eq!(err.field, "runtime");
        assert!(err.message.contains("oci (crun, runc)"), "{}", err.message);
        assert_eq!(
            backends.choose_runtime(&instance("ct-1")?, &sim, None)?,
            None
        );
        // A tool oci does not know: named before the backend's usability is asked.
        let Err(AppError::Invalid(err)) =
            backends.choose_runtime(&instance("web")?, &oci, Some("youki"))
        else {
            return Err("youki was taken".into());
        };
        assert_eq!(err.field, "runtime");
        assert!(err.message.contains("\"youki\""), "{}", err.message);
        // A rule's runtime must be one its backend offers.
        for (backend, bad) in [("lxc", "crun"), ("oci", "youki")] {
            let Err(AppError::Internal(why)) =
                Backends::new(&config(&[("x*", backend, Some(bad))], "sim")?)
            else {
                return Err(format!("{backend} with {bad} was accepted").into());
            };
            assert!(why.contains("routing[0].runtime"), "{why}");
        }
        Ok(())
    }

    #[test]
    fn unknown_backends_are_named_with_the_offered_ones() -> Result<(), Box<dyn std::error::Error>>
    {
        let backends = Backends::new(&config(&[], "sim")?)?;
        let Err(AppError::Invalid(err)) = backends.get(&BackendName::parse("vmware")?) else {
            return Err("vmware was found".into());
        };
        assert_eq!(err.field, "backend");
        assert!(
            err.message.contains("builtin, lxc, nspawn, oci, sim"),
            "{}",
            err.message
        );
        Ok(())
    }

    #[test]
    fn imports_land_on_the_routed_backend_when_it_keeps_a_local_rootfs()
    -> Result<(), Box<dyn std::error::Error>> {
        let backends = Backends::new(&config(&[("pve-*", "proxmox", None)], "sim")?)?;
        assert_eq!(backends.route_import(&instance("web")?).as_str(), "sim");
        // proxmox keeps its own root filesystems (and is not even configured here).
        assert_eq!(
            backends.route_import(&instance("pve-1")?).as_str(),
            "builtin"
        );
        Ok(())
    }
}
