//! `lxc-attach` command lines for exec and terminals.

use std::collections::BTreeMap;

use berth_types::InstanceName;

use super::LxcRuntime;
use crate::RuntimeError;
use crate::local::tools;

impl LxcRuntime {
    /// `lxc-attach … --clear-env -v K=V … -- argv`, through `sh -c 'cd …'` when a working
    /// directory is asked for (lxc-attach has no option for it).
    pub(super) fn attach_command(
        &self,
        name: &InstanceName,
        argv: &[String],
        env: &BTreeMap<String, String>,
        cwd: Option<&str>,
    ) -> Result<tokio::process::Command, RuntimeError> {
        let mut args: Vec<String> = vec!["--clear-env".into()];
        let mut env = env.clone();
        env.entry("PATH".into()).or_insert_with(|| {
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into()
        });
        env.entry("HOME".into()).or_insert_with(|| "/root".into());
        for (k, v) in &env {
            args.push("-v".into());
            args.push(format!("{k}={v}"));
        }
        args.push("--".into());
        if let Some(cwd) = cwd {
            args.extend(["sh", "-c", "cd \"$0\" && exec \"$@\"", cwd].map(str::to_owned));
        }
        args.extend(argv.iter().cloned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(tools::command(
            &Self::program("lxc-attach")?,
            &self.lxcpath,
            name.as_str(),
            &refs,
        ))
    }
}
