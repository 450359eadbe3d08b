//! Prints the guest deny list in one launcher's syntax, for experiments and review:
//! `hardening oci|lxc|nspawn [--privileged] [--nesting]`.

use berth_isolation::hardening::{denied, render};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let list = denied(
        args.iter().any(|a| a == "--privileged"),
        args.iter().any(|a| a == "--nesting"),
    );
    match args.first().map(String::as_str) {
        Some("oci") => println!("{}", serde_json::to_string_pretty(&render::oci(&list))?),
        Some("lxc") => print!("{}", render::lxc(&list)),
        Some("nspawn") => {
            let (args, skipped) = render::nspawn(&list);
            println!("{}", args.join(" "));
            if !skipped.is_empty() {
                eprintln!("nspawn cannot filter by argument: {}", skipped.join(", "));
            }
        }
        _ => return Err("usage: hardening oci|lxc|nspawn [--privileged] [--nesting]".into()),
    }
    Ok(())
}
