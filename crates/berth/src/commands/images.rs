//! `berth image list | build | delete`.

use berth_types::api::{BuildImageRequest, ImageInfo, OperationEnvelope};
use berth_types::units::format_bytes;
use clap::Subcommand;

use super::Context;
use crate::output::{self, Format};
use crate::progress;

#[derive(Subcommand)]
pub enum ImageCommand {
    /// Known images and whether they are built.
    #[command(alias = "ls")]
    List,
    /// Build an image into the cache (shows progress).
    Build {
        image: String,
        /// Rebuild even when cached.
        #[arg(long)]
        force: bool,
    },
    /// Remove a built image from the cache.
    #[command(alias = "rm")]
    Delete { image: String },
}

pub async fn run(ctx: &Context, command: ImageCommand) -> anyhow::Result<()> {
    match command {
        ImageCommand::List => {
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
                &["IMAGE", "CODENAME", "ARCH", "STATUS", "SIZE", "BUILT"],
                &rows,
            );
            Ok(())
        }
        ImageCommand::Build { image, force } => {
            let envelope: OperationEnvelope = ctx
                .client
                .post("/images", &BuildImageRequest { image, force })
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
        ImageCommand::Delete { image } => {
            let _: serde_json::Value = ctx.client.delete(&format!("/images/{image}"), &()).await?;
            if ctx.format == Format::Table {
                println!("Image {image} deleted");
            }
            Ok(())
        }
    }
}
