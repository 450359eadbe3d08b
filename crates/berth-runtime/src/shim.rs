//! `berthd shim` (and the `berth-shim` binary): the per-guest processes berthd starts for every
//! local backend, dispatched here, above all of them.
//!
//! - `run --name N --state-root DIR`: the guest's detached supervisor
//!   (`local::supervisor`), running the engine its launch plan names: libcontainer for builtin
//!   (`builtin::engine`), a host tool for nspawn and oci (`local::tool_engine`).
//! - `enter --name N --state-root DIR [--cwd DIR] [--env K=V]... -- ARGV...`: one command
//!   inside the running guest (`local::enter`).

use std::ffi::OsString;

use crate::builtin;
use crate::local::invoke::Opts;
use crate::local::supervisor::{self, Engine};
use crate::local::tool_engine::ToolEngine;
use crate::local::{EnginePlan, LaunchPlan, enter};

/// Runs the shim with `args` (the arguments after `shim`) and returns its exit code. `run`
/// forks: call this first thing in `main`, before any thread or tokio runtime exists.
pub fn main(args: Vec<OsString>) -> i32 {
    let Some((verb, rest)) = args.split_first() else {
        eprintln!("berth-shim: usage: berth-shim run|enter --name N --state-root DIR ...");
        return 2;
    };
    let opts = match Opts::parse(rest) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("berth-shim: {e}");
            return 2;
        }
    };
    match verb.to_str() {
        Some("run") => supervisor::run(&opts, engine),
        Some("enter") => enter::enter_main(opts),
        _ => {
            eprintln!("berth-shim: unknown command {}", verb.to_string_lossy());
            2
        }
    }
}

/// The engine `plan` names.
fn engine(plan: &LaunchPlan) -> Box<dyn Engine> {
    match &plan.engine {
        EnginePlan::Libcontainer => Box::new(builtin::Libcontainer::new(plan.bundle.clone())),
        EnginePlan::Tool(tool) => Box::new(ToolEngine::new(tool.clone())),
    }
}
