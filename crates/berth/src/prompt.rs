//! Reading answers and secrets from standard input: a prompt without echo on a terminal, one
//! line per answer when piped (so scripts can feed passwords without putting them in argv).

use std::io::{BufRead, IsTerminal, Write};

/// One line from standard input; on a terminal `prompt` is shown and what is typed is not
/// echoed.
pub fn secret(prompt: &str) -> anyhow::Result<String> {
    let stdin = std::io::stdin();
    let saved = if stdin.is_terminal() {
        eprint!("{prompt}: ");
        std::io::stderr().flush()?;
        let mut termios = nix::sys::termios::tcgetattr(&stdin)?;
        let saved = termios.clone();
        termios
            .local_flags
            .remove(nix::sys::termios::LocalFlags::ECHO);
        nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &termios)?;
        Some(saved)
    } else {
        None
    };
    let mut line = String::new();
    let read = stdin.lock().read_line(&mut line);
    if let Some(saved) = saved {
        nix::sys::termios::tcsetattr(&stdin, nix::sys::termios::SetArg::TCSANOW, &saved)?;
        eprintln!();
    }
    read?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

/// A visible answer to `question` on a terminal; `None` when standard input is not one.
pub fn ask(question: &str) -> anyhow::Result<Option<String>> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Ok(None);
    }
    eprint!("{question} ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    stdin.lock().read_line(&mut line)?;
    Ok(Some(line.trim().to_owned()))
}
