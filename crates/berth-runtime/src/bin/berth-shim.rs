//! `berth-shim`: the local backends' per-guest supervisor and enter helper, as a binary of its
//! own (berthd runs the same code as `berthd shim`).

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    std::process::exit(berth_runtime::shim::main(args));
}
