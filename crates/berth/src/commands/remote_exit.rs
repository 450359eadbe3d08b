//! A remote command's exit code (`berth exec`, `berth run`, `berth console --shell`) passed on
//! as berth's own.

/// A command's exit code, passed through to berth's own.
#[derive(Debug, thiserror::Error)]
#[error("exit {0}")]
pub struct ExitWith(pub u8);

/// `Ok` for 0; otherwise the code to exit with (255 for one outside 1–255).
pub fn exit_with(code: i32) -> anyhow::Result<()> {
    match code {
        0 => Ok(()),
        c => Err(ExitWith(u8::try_from(c).unwrap_or(255)).into()),
    }
}
