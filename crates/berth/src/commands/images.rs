//! `berth image list [SERVER:] | remotes | info | build | delete | import`.

use berth_types::api::{
    BuildImageRequest, ImageInfo, ImageRemote, OperationEnvelope, RemoteImageInfo,
};
use berth_types::units::format_bytes;
use clap::Subcommand;

use super::Context;
use crate::output::{self, Format};
use crate::progress;

#[derive(Subcommand)]
pub enum ImageCommand {
    /// Known images and whether they are built; with `SERVER:` what that image server
    /// (`[[images.remotes]]`) offers. (`--remote` names the daemon, not an image server.)
    #[command(alias = "ls")]
    List {
        /// An image server's name, `images:` (the colon is optional).
        server: Option<String>,
    },
    /// The image servers the daemon is configured with.
    Remotes,
    /// One image: where it came from (built from a mirror, fetched from a server with its
    /// sha256), channel, build or fetch date, size, package count, sources.
    #[command(alias = "show")]
    Info {
        image: String,
        /// amd64 or arm64 (default: the host's).
        #[arg(long)]
        arch: Option<String>,
    },
    /// Build an image into the cache (shows progress).
    Build {
        image: String,
        /// Rebuild even when cached.
        #[arg(long)]
        force: bool,
        /// amd64 or arm64 (default: the host's); another is built through qemu-user.
        #[arg(long)]
        arch: Option<String>,
    },
    /// Remove a built image from the cache.
    #[command(alias = "rm")]
    Delete {
        image: String,
        /// amd64 or arm64 (default: the host's).
        #[arg(long)]
        arch: Option<String>,
    },
    /// Import an application image from an OCI layout archive or a docker save archive
    /// (tar, optionally gzip); run it with `berth run oci:ALIAS`.
    Import {
        file: std::path::PathBuf,
        /// The name to run it by; default: the file name without extensions.
        #[arg(long)]
        alias: Option<String>,
    },
}

pub async fn run(ctx: &Context, command: ImageCommand) -> anyhow::Result<()> {
    match command {
        ImageCommand::List {
            server: Some(server),
        } => list_remote(ctx, server.trim_end_matches(':')).await,
        ImageCommand::Remotes => {
            let remotes: Vec<ImageRemote> = ctx.client.get("/images/remotes").await?;
            if ctx.format == Format::Json {
                return output::json(&remotes);
            }
            let rows: Vec<Vec<String>> = remotes
                .iter()
                .map(|r| vec![r.name.clone(), r.url.clone()])
                .collect();
            output::table(&["NAME", "URL"], &rows);
            Ok(())
        }
        ImageCommand::List { server: None } => {
            let images: Vec<ImageInfo> = ctx.client.get("/images").await?;
            if ctx.format == Format::Json {
                return output::json(&images);
            }
            let rows: Vec<Vec<String>> = images
                .iter()
                .map(|i| {
                    vec![
                        i.alias.clone(),
                        i.codename.clone(),
                        i.channel.clone().unwrap_or_else(|| "-".into()),
                        i.arch.clone(),
                        i.status.clone(),
                        i.size.map(format_bytes).unwrap_or_else(|| "-".into()),
                        i.built_at
                            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                            .unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            output::table(
                &[
                    "IMAGE", "CODENAME", "CHANNEL", "ARCH", "STATUS", "SIZE", "BUILT",
                ],
                &rows,
            );
            Ok(())
        }
        ImageCommand::Info { image, arch } => {
            let info: ImageInfo = ctx.client.get(&image_path(&image, arch.as_deref())).await?;
            if ctx.format == Format::Json {
                return output::json(&info);
            }
            let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
            if info.codename.is_empty() {
                println!("Image:    {}", info.alias);
            } else {
                println!("Image:    {} ({})", info.alias, info.codename);
            }
            if let Some(origin) = &info.origin {
                println!("Origin:   {origin}");
            }
            println!("Channel:  {}", or_dash(info.channel.clone()));
            println!("Arch:     {}", info.arch);
            println!("Status:   {}", info.status);
            println!(
                "Built:    {}",
                or_dash(info.built_at.map(|t| t.to_rfc3339()))
            );
            println!("Size:     {}", or_dash(info.size.map(format_bytes)));
            let packages = match (info.packages, &info.package_manager) {
                (Some(n), Some(manager)) => Some(format!("{n} ({manager})")),
                (n, _) => n.map(|n| n.to_string()),
            };
            println!("Packages: {}", or_dash(packages));
            for source in &info.sources {
                println!("Source:   {source}");
            }
            if let Some(sha256) = &info.sha256 {
                println!("SHA-256:  {sha256} (checked before unpacking)");
            }
            Ok(())
        }
        ImageCommand::Build { image, force, arch } => {
            let envelope: OperationEnvelope = ctx
                .client
                .post("/images", &BuildImageRequest { image, force, arch })
                .await?;
            let alias = envelope.operation.target.clone();
            let operation = progress::follow(&ctx.client, envelope.operation, ctx.quiet).await?;
            match ctx.format {
                Format::Json => output::json(&operation),
                Format::Table => {
                    println!("Image {alias} is built");
                    Ok(())
                }
            }
        }
        ImageCommand::Import { file, alias } => {
            use anyhow::Context as _;
            let alias = match alias {
                Some(a) => a,
                None => file
                    .file_name()
                    .map(|n| {
                        n.to_string_lossy()
                            .split('.')
                            .next()
                            .unwrap_or_default()
                            .to_owned()
                    })
                    .unwrap_or_default(),
            };
            let bytes =
                std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let path = format!(
                "/images/import?alias={}",
                crate::client::query_value(&alias)
            );
            let (_, _, answer) = ctx
                .client
                .raw(
                    hyper::Method::POST,
                    &path,
                    "application/x-tar",
                    hyper::body::Bytes::from(bytes),
                )
                .await?;
            let image: berth_types::api::ImportedImage = serde_json::from_slice(&answer)?;
            match ctx.format {
                Format::Json => output::json(&image),
                Format::Table => {
                    println!(
                        "Image oci:{} imported (entrypoint {:?}, cmd {:?})",
                        image.alias, image.entrypoint, image.cmd
                    );
                    Ok(())
                }
            }
        }
        ImageCommand::Delete { image, arch } => {
            let _: serde_json::Value = ctx
                .client
                .delete(&image_path(&image, arch.as_deref()), &())
                .await?;
            if ctx.format == Format::Table {
                println!("Image {image} deleted");
            }
            Ok(())
        }
    }
}

/// `berth image list SERVER:`: the server's catalogue as the daemon reads it.
async fn list_remote(ctx: &Context, server: &str) -> anyhow::Result<()> {
    let path = format!("/images/remotes/{}", crate::client::query_value(server));
    let images: Vec<RemoteImageInfo> = ctx.client.get(&path).await?;
    if ctx.format == Format::Json {
        return output::json(&images);
    }
    let rows: Vec<Vec<String>> = images
        .iter()
        .map(|i| {
            vec![
                format!("{server}:{}", i.alias),
                i.arch.clone(),
                i.version.clone(),
                i.ftype.clone(),
                format_bytes(i.size),
                i.fetched_at
                    .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    output::table(
        &["IMAGE", "ARCH", "VERSION", "FORM", "DOWNLOAD", "FETCHED"],
        &rows,
    );
    Ok(())
}

/// `/images/ALIAS[?arch=ARCH]`.
fn image_path(image: &str, arch: Option<&str>) -> String {
    match arch {
        Some(arch) => format!("/images/{image}?arch={}", crate::client::query_value(arch)),
        None => format!("/images/{image}"),
    }
}
