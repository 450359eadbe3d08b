//! `berth-shim`: the builtin runtime's per-guest supervisor and exec helper, as a binary of its
//! own (berthd runs the same code as `berthd shim`).

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    std::process::exit(berth_runtime::builtin::shim_main(args));
}
