//! How text looks: colour and symbols on a terminal, plain ASCII words otherwise (a pipe, a
//! file, `NO_COLOR`), so what a script greps never holds escape codes.

use std::io::IsTerminal;

use serde::Serialize;

/// The state of anything shown, as one of four looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Ready, succeeded, held, available.
    Ok,
    /// Under way or waiting.
    Progressing,
    /// Failed, lost, refused, not available.
    Failed,
    /// Suspended, skipped, superseded: not failing, not moving.
    Idle,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub colour: bool,
    pub symbols: bool,
}

impl Style {
    /// Colour and symbols when stdout is a terminal, and colour only without `NO_COLOR`
    /// (https://no-color.org: set and not empty).
    pub fn detect() -> Self {
        let terminal = std::io::stdout().is_terminal();
        let no_colour = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            colour: terminal && !no_colour,
            symbols: terminal,
        }
    }

    #[cfg(test)]
    pub const PLAIN: Self = Self {
        colour: false,
        symbols: false,
    };

    /// The mark before a line: a symbol on a terminal, a bracketed word otherwise.
    pub fn mark(self, health: Health) -> String {
        let text = match (self.symbols, health) {
            (true, Health::Ok) => "✔",
            (true, Health::Progressing) => "◌",
            (true, Health::Failed) => "✖",
            (true, Health::Idle) => "⏸",
            (false, Health::Ok) => "[ok]",
            (false, Health::Progressing) => "[..]",
            (false, Health::Failed) => "[!!]",
            (false, Health::Idle) => "[--]",
        };
        self.paint(health, text)
    }

    pub fn paint(self, health: Health, text: &str) -> String {
        if !self.colour {
            return text.to_string();
        }
        let code = match health {
            Health::Ok => "32",
            Health::Progressing => "33",
            Health::Failed => "31",
            Health::Idle => "90",
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }

    pub fn bold(self, text: &str) -> String {
        if self.colour {
            format!("\x1b[1m{text}\x1b[0m")
        } else {
            text.to_string()
        }
    }

    /// The branch before a child in a tree; `last` for the final child.
    pub fn branch(self, last: bool) -> &'static str {
        match (self.symbols, last) {
            (true, false) => "├─ ",
            (true, true) => "└─ ",
            (false, false) => "|- ",
            (false, true) => "`- ",
        }
    }

    /// What continues under a child that has children of its own.
    pub fn stem(self, last: bool) -> &'static str {
        match (self.symbols, last) {
            (_, true) => "   ",
            (true, false) => "│  ",
            (false, false) => "|  ",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_has_no_escape_codes_or_symbols() {
        let plain = Style::PLAIN;
        let text = [
            Health::Ok,
            Health::Progressing,
            Health::Failed,
            Health::Idle,
        ]
        .map(|h| plain.mark(h))
        .join(" ");
        assert_eq!(text, "[ok] [..] [!!] [--]");
        assert_eq!(plain.bold("x"), "x");
        assert!(plain.branch(false).is_ascii() && plain.stem(false).is_ascii());
    }

    #[test]
    fn a_terminal_gets_symbols_and_colour() {
        let tty = Style {
            colour: true,
            symbols: true,
        };
        assert_eq!(tty.mark(Health::Failed), "\x1b[31m✖\x1b[0m");
        let no_colour = Style {
            colour: false,
            symbols: true,
        };
        assert_eq!(no_colour.mark(Health::Ok), "✔");
    }
}
