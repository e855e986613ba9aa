//! The command-line entries: `serve` (the relay) and `tree` (print OTLP traces as trees).
//! The `relink` CLI's `serve` subcommand and the `relink-relay` binary both call these, so
//! the flags and exit codes are the same everywhere.

use std::process::ExitCode;

use crate::options::{ServeOptions, USAGE};

/// `relink serve ARGS`: exit 0 after a graceful shutdown, 64 for a usage error, 2 for a
/// missing or invalid component or configuration, 1 when the relay cannot run.
pub fn serve_main(words: &[String]) -> ExitCode {
    let options = match ServeOptions::parse(words) {
        Ok(options) => options,
        Err(message) if message == USAGE => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("relink serve: {message}");
            return ExitCode::from(64);
        }
    };
    match crate::serve(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("relink serve: {e}");
            ExitCode::from(e.code)
        }
    }
}

/// `tree FILE...`: prints the traces of the files (OTLP protobuf, OTLP/JSON, or the
/// relay's OTLP/JSON lines; `-` is standard input) as trees, all files as one set.
pub fn tree_main(words: &[String]) -> ExitCode {
    if words.is_empty() || words.iter().any(|w| w == "-h" || w == "--help") {
        eprintln!("usage: tree FILE|-...");
        return ExitCode::from(64);
    }
    let mut text = String::new();
    for path in words {
        let read = if path == "-" {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf).map(|_| buf)
        } else {
            std::fs::read(path)
        };
        let bytes = match read {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("tree: {path}: {e}");
                return ExitCode::from(2);
            }
        };
        match crate::tree::render_bytes(&bytes) {
            Ok(rendered) => text.push_str(&rendered),
            Err(e) => {
                eprintln!("tree: {path}: {e}");
                return ExitCode::from(2);
            }
        }
    }
    print!("{text}");
    ExitCode::SUCCESS
}
