//! Boots one guest from a prepared root filesystem and leaves it running (a debugging aid):
//! `boot NAME ROOTFS STATE_ROOT SHIM`; `boot --exec NAME STATE_ROOT SHIM ARGV...`;
//! stop it with `boot --stop NAME STATE_ROOT SHIM`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use berth_runtime::builtin::BuiltinRuntime;
use berth_runtime::local::LocalConfig;
use berth_runtime::{ContainerSpec, Runtime};
use berth_types::{InstanceName, Limits};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|a| a == "--exec") {
        return exec(&args[1..]).await;
    }
    let stop = args.first().is_some_and(|a| a == "--stop");
    let args = if stop { &args[1..] } else { &args[..] };
    let [name, rest @ ..] = args else {
        return Err("usage: boot [--stop] NAME [ROOTFS] STATE_ROOT SHIM".into());
    };
    let name = InstanceName::parse(name)?;
    let (rootfs, state_root, shim) = match rest {
        [r, s, shim] => (PathBuf::from(r), PathBuf::from(s), shim.clone()),
        [s, shim] => (PathBuf::new(), PathBuf::from(s), shim.clone()),
        _ => return Err("usage: boot [--stop] NAME [ROOTFS] STATE_ROOT SHIM".into()),
    };
    let rt = BuiltinRuntime::new(LocalConfig {
        state_root: state_root.clone(),
        shim_command: vec![shim.into()],
    });
    if stop {
        let t = Instant::now();
        rt.stop(&name, Duration::from_secs(30)).await?;
        rt.remove(&name).await?;
        println!("stopped in {:?}", t.elapsed());
        return Ok(());
    }
    let spec = ContainerSpec {
        name: name.clone(),
        rootfs,
        hostname: name.to_string(),
        limits: Limits::default(),
        state_dir: state_root.join(format!("{name}.bundle")),
        runtime: None,
        netns: None,
        security: Default::default(),
    };
    let t = Instant::now();
    let pid = rt.start(&spec).await?;
    println!("started pid {pid} in {:?}", t.elapsed());
    Ok(())
}

async fn exec(args: &[String]) -> Result<(), Box<dyn std::error::Error>> {
    let [name, state_root, shim, argv @ ..] = args else {
        return Err("usage: boot --exec NAME STATE_ROOT SHIM ARGV...".into());
    };
    let rt = BuiltinRuntime::new(LocalConfig {
        state_root: state_root.into(),
        shim_command: vec![shim.into()],
    });
    let t = Instant::now();
    let spec = berth_runtime::ExecSpec {
        argv: argv.to_vec(),
        env: Default::default(),
        cwd: None,
        stdin: None,
        timeout: Duration::from_secs(60),
        output_cap: 1 << 20,
    };
    let r = rt.exec(&InstanceName::parse(name)?, &spec).await?;
    print!("{}", String::from_utf8_lossy(&r.stdout));
    eprint!("{}", String::from_utf8_lossy(&r.stderr));
    println!("[exit {} in {:?}]", r.exit_code, t.elapsed());
    Ok(())
}
