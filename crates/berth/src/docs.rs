//! Shell completions and man pages, generated from the CLI definition itself (clap_complete,
//! clap_mangen), so they never disagree with the commands. The Debian package installs both.

use std::io::Write;
use std::path::Path;

use clap::Command;

/// Writes the completion script for `shell` to standard output.
pub fn completion(mut command: Command, shell: clap_complete::Shell) {
    let name = command.get_name().to_owned();
    clap_complete::generate(shell, &mut command, name, &mut std::io::stdout());
}

/// Writes `berth.1` and `berth-COMMAND.1` (and deeper, `berth-user-add.1`) into `dir`.
pub fn manpages(command: Command, dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut written = 0;
    let mut pending = vec![(command.get_name().to_owned(), command)];
    while let Some((name, command)) = pending.pop() {
        let mut page = Vec::new();
        clap_mangen::Man::new(command.clone().name(name.clone())).render(&mut page)?;
        std::fs::File::create(dir.join(format!("{name}.1")))?.write_all(&page)?;
        written += 1;
        for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
            pending.push((format!("{name}-{}", sub.get_name()), sub.clone()));
        }
    }
    Ok(written)
}
