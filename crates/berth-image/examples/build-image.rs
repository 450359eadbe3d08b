//! Builds one image into a cache directory, printing each step: a developer's tool and the
//! way build times are measured.
//!
//! `cargo run -p berth-image --example build-image -- debian/12 /var/tmp/images [--force]
//! [--arch arm64] [--no-valid-until]` (the last for a frozen or snapshot mirror)

use std::path::PathBuf;
use std::time::Instant;

use berth_image::Mirrors;
use berth_types::{Arch, ImageRef};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(image), Some(cache)) = (args.first(), args.get(1)) else {
        eprintln!("usage: build-image IMAGE CACHE_DIR [--force]");
        return std::process::ExitCode::from(2);
    };
    let image = match ImageRef::parse(image) {
        Ok(image) => image,
        Err(e) => {
            eprintln!("{}", e.message);
            return std::process::ExitCode::from(2);
        }
    };
    let arch = match args.iter().position(|a| a == "--arch") {
        Some(at) => {
            match Arch::parse_field(args.get(at + 1).map_or("", String::as_str), "--arch") {
                Ok(arch) => Some(arch),
                Err(e) => {
                    eprintln!("{}", e.message);
                    return std::process::ExitCode::from(2);
                }
            }
        }
        None => Arch::host(),
    };
    let Some(arch) = arch else {
        eprintln!("unsupported host architecture");
        return std::process::ExitCode::FAILURE;
    };
    let mirrors = Mirrors {
        ignore_valid_until: args.iter().any(|a| a == "--no-valid-until"),
        ..Mirrors::default()
    };
    let cache = PathBuf::from(cache);
    let started = Instant::now();
    let progress = |p: berth_image::BuildProgress| {
        eprintln!("[{:6.1}s] {p}", started.elapsed().as_secs_f64());
    };
    let result = if args.iter().any(|a| a == "--force") {
        berth_image::build(&cache, image, arch, &mirrors, progress).await
    } else {
        berth_image::ensure_built(&cache, image, arch, &mirrors, progress).await
    };
    match result {
        Ok(cached) => {
            println!(
                "{image} ({}) in {}: {} MiB, {:.1}s",
                arch.as_str(),
                cached.rootfs.display(),
                cached.size >> 20,
                started.elapsed().as_secs_f64()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}", berth_image::error_chain(&e));
            std::process::ExitCode::FAILURE
        }
    }
}
