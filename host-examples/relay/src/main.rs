//! `relink-relay`: the relay on its own (the same code as `relink serve`).
//!
//! - `relink-relay serve [--listen ADDR] [--component FILE] ...` (see `--help`)
//! - `relink-relay tree FILE...` prints OTLP traces as indented trees.

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let rest = argv.get(1..).unwrap_or_default();
    match argv.first().map(String::as_str) {
        Some("serve") => relink_relay::cli::serve_main(rest),
        Some("tree") => relink_relay::cli::tree_main(rest),
        _ => {
            eprintln!("usage: relink-relay serve [OPTIONS] | relink-relay tree FILE...");
            ExitCode::from(64)
        }
    }
}
