//! How far a bootstrap is, from what mmdebstrap prints: its `I:` lines name the phase (index
//! update, downloading, extracting, installing the essential set, installing the rest,
//! cleaning) and, on a terminal, its progress bars give each phase's percentage (apt's bytes
//! downloaded and packages unpacked/configured, dpkg's install and configure steps of all
//! packages, archives extracted of all). The phases are weighted into one 0–100 figure that
//! only moves forward. debootstrap only names phases.

/// The step an output line announces: mmdebstrap's and debootstrap's `I: …` lines, trimmed
/// and lower-cased at the start (`I: running apt-get update...` → `running apt-get update`).
pub fn step_of(line: &str) -> Option<String> {
    let text = line
        .strip_prefix("I: ")?
        .trim()
        .trim_end_matches("...")
        .trim();
    let noise = ["success in", "automatically chosen", "running --"];
    if text.is_empty() || noise.iter().any(|n| text.starts_with(n)) {
        return None;
    }
    let mut chars = text.chars();
    let first = chars.next()?;
    Some(first.to_lowercase().chain(chars).collect())
}

/// One phase of a bootstrap: the `I:` line that starts it, its share of the whole, a label.
struct Phase {
    starts_with: &'static str,
    from: f32,
    to: f32,
    label: &'static str,
}

/// mmdebstrap's phases in order, with the share of a typical build's time each takes.
const PHASES: &[Phase] = &[
    Phase {
        starts_with: "running apt-get update",
        from: 0.0,
        to: 6.0,
        label: "updating package lists",
    },
    Phase {
        starts_with: "downloading packages",
        from: 6.0,
        to: 22.0,
        label: "downloading essential packages",
    },
    Phase {
        starts_with: "extracting archives",
        from: 22.0,
        to: 28.0,
        label: "extracting essential packages",
    },
    Phase {
        starts_with: "installing essential packages",
        from: 28.0,
        to: 52.0,
        label: "installing essential packages",
    },
    Phase {
        starts_with: "installing remaining packages",
        from: 52.0,
        to: 97.0,
        label: "installing packages",
    },
    Phase {
        starts_with: "cleaning",
        from: 97.0,
        to: 100.0,
        label: "cleaning apt's caches",
    },
];

/// Where a bootstrap is: 0–100 and what it is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub percent: u8,
    pub message: String,
}

/// Reads the bootstrapper's output, piece by piece, and says when its position moved.
#[derive(Debug, Default)]
pub struct Tracker {
    phase: Option<usize>,
    /// The apt status within the "remaining packages" phase: downloading comes before
    /// installing, each 0–100.
    installing: bool,
    percent: u8,
    message: String,
}

impl Tracker {
    /// Feeds one line or progress-bar frame (split at `\r` or `\n`); returns the new position
    /// when the percentage or the message changed.
    pub fn feed(&mut self, piece: &str) -> Option<Position> {
        let piece = plain(piece);
        let piece = piece.trim_end();
        if let Some(step) = step_of(piece) {
            return self.start(step);
        }
        let (status, percent) = bar(piece)?;
        self.within(status, percent)
    }

    fn start(&mut self, step: String) -> Option<Position> {
        if let Some(index) = PHASES.iter().position(|p| step.starts_with(p.starts_with)) {
            // Phases only go forward (apt-get update runs once more inside the chroot).
            if self.phase.is_none_or(|current| index > current) {
                self.phase = Some(index);
                self.installing = false;
                return self.moved(PHASES[index].from, PHASES[index].label.to_owned());
            }
            return None;
        }
        // A step outside the table (debootstrap's, a hook): keep the figure, show the words.
        let percent = f32::from(self.percent);
        self.moved(percent, step)
    }

    fn within(&mut self, status: Option<&str>, percent: f32) -> Option<Position> {
        let index = self.phase?;
        let phase = &PHASES[index];
        let span = phase.to - phase.from;
        let percent = percent.clamp(0.0, 100.0);
        let (done, label) = if phase.starts_with == "installing remaining packages" {
            // apt: bytes downloaded, then packages unpacked and configured.
            if status == Some("installing") {
                self.installing = true;
            }
            if self.installing {
                (0.3 + 0.7 * percent / 100.0, "installing packages")
            } else {
                (0.3 * percent / 100.0, "downloading packages")
            }
        } else {
            (percent / 100.0, phase.label)
        };
        let status = status.filter(|s| !label.contains(s));
        let message = match status {
            Some(status) => format!("{label}: {status} {percent:.0}%"),
            None => format!("{label} {percent:.0}%"),
        };
        self.moved(phase.from + span * done, message)
    }

    /// The new position if it moved: the figure never goes back.
    fn moved(&mut self, at: f32, message: String) -> Option<Position> {
        let percent = (at.floor() as u8).clamp(self.percent, 100);
        if percent == self.percent && same_label(&message, &self.message) {
            return None;
        }
        self.percent = percent;
        self.message = message.clone();
        Some(Position { percent, message })
    }
}

/// `text` without terminal escape sequences (colours, line clearing: `ESC [ … letter`).
pub fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        }
    }
    out
}

/// Two messages of one phase that differ only in their figure.
fn same_label(a: &str, b: &str) -> bool {
    let label = |s: &str| {
        s.trim_end_matches(|c: char| c.is_ascii_digit() || c == '%' || c == ' ')
            .to_owned()
    };
    label(a) == label(b)
}

/// mmdebstrap's progress bar frame: `status:     45.23 [====>   ]` (the status may be blank).
fn bar(piece: &str) -> Option<(Option<&str>, f32)> {
    let (before, _) = piece.split_once(" [")?;
    let (status, figure) = match before.rsplit_once(':') {
        Some((status, figure)) => (Some(status.trim()), figure.trim()),
        None => (None, before.trim()),
    };
    let percent: f32 = figure.parse().ok()?;
    Some((status.filter(|s| !s.is_empty()), percent))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed_all(tracker: &mut Tracker, text: &str) -> Vec<Position> {
        text.split(['\r', '\n'])
            .filter_map(|p| tracker.feed(p))
            .collect()
    }

    #[test]
    fn phases_and_bars_make_one_forward_figure() {
        let mut t = Tracker::default();
        let out = "I: running apt-get update...\n\x1b[2K            0.00 [>   ]\r\
            \x1b[2Kdownloading: 50.00 [==>  ]\r\x1b[2Kdone\n\
            I: downloading packages with apt...\n\x1b[2Kdownloading: 40.00 [=>  ]\r\
            \x1b[2Kdownloading: 100.00 [====]\r\x1b[2Kdone\n\
            I: extracting archives...\n\x1b[2Kextracting: 50.00 [=> ]\r\x1b[2Kdone\n\
            I: installing essential packages...\n\x1b[2Kinstalling: 25.00 [=>]\r\
            \x1b[2Kconfiguring: 75.00 [===>]\r\x1b[2Kdone\n\
            I: running apt-get update...\n\
            I: installing remaining packages inside the chroot...\n\
            \x1b[2Kdownloading: 50.00 [=>]\r\x1b[2Kinstalling: 50.00 [=>]\r\
            \x1b[2Kinstalling: 100.00 [====]\r\x1b[2Kdone\n\
            I: cleaning package lists and apt cache...\nI: success in 30.2 seconds\n";
        let seen = feed_all(&mut t, out);
        let figures: Vec<u8> = seen.iter().map(|p| p.percent).collect();
        assert!(figures.windows(2).all(|w| w[0] <= w[1]), "{figures:?}");
        assert!(
            figures
                .iter()
                .collect::<std::collections::BTreeSet<_>>()
                .len()
                >= 10,
            "{figures:?}"
        );
        assert_eq!(figures.last(), Some(&97));
        assert!(
            seen.iter()
                .any(|p| p.message == "installing essential packages: configuring 75%")
        );
        assert!(seen.iter().any(|p| p.message == "downloading packages 50%"));
        assert!(seen.iter().any(|p| p.message == "installing packages 100%"));
    }

    #[test]
    fn colours_are_not_text() {
        assert_eq!(
            plain("\x1b[32mI: extracting archives...\x1b[0m"),
            "I: extracting archives..."
        );
        let mut t = Tracker::default();
        let seen = t.feed("\x1b[32mI: running apt-get update...\x1b[0m");
        assert_eq!(
            seen.map(|p| p.message).as_deref(),
            Some("updating package lists")
        );
    }

    #[test]
    fn other_steps_keep_the_figure_and_show_their_words() {
        let mut t = Tracker::default();
        assert_eq!(
            t.feed("I: Retrieving InRelease")
                .map(|p| p.message)
                .as_deref(),
            Some("retrieving InRelease")
        );
        assert_eq!(t.feed("some noise"), None);
        assert_eq!(t.feed("x: abc [==]"), None);
    }
}
