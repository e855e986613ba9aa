//! `--relay-config FILE`: the relay's own settings in a file beside the relink
//! configuration, so a deployment keeps them (and its API key) out of the command line.
//!
//! The file is a JSON object whose keys are the long flag names without `--` and whose
//! values are what the flag takes: a string or a number, or a list for a repeatable flag
//! (`"upstream-header": ["x-api-key=...", "x-team=obs"]`). It is turned into flags placed
//! before the command line's, so one parser checks both and every flag is settable there,
//! including flags added later. A flag given on the command line wins: the file's entry for
//! it is left out entirely (for a repeatable flag, all of the file's values). The
//! `OTEL_EXPORTER_OTLP_*` variables come after both.

use serde_json::Value;

/// The flags that may be given more than once (so a list in the file).
const REPEATABLE: &[&str] = &["upstream-header"];

/// The command line with the file's flags (if `--relay-config` is given) in front.
pub fn expand(cli: &[String]) -> Result<Vec<String>, String> {
    let mut path = None;
    let mut given = Vec::new();
    let mut words = cli.iter();
    while let Some(word) = words.next() {
        let Some(flag) = word.strip_prefix("--") else {
            continue;
        };
        let (name, inline) = match flag.split_once('=') {
            Some((name, value)) => (name, Some(value.to_string())),
            None => (flag, None),
        };
        if name == "relay-config" {
            path = inline.or_else(|| words.next().cloned());
        }
        given.push(name.to_string());
    }
    let Some(path) = path else {
        return Ok(cli.to_vec());
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("--relay-config {path}: cannot read: {e}"))?;
    let mut out = flags(&text).map_err(|e| format!("--relay-config {path}: {e}"))?;
    out.retain_pairs(|name| !given.iter().any(|g| g == name));
    let mut all = out.words;
    all.extend_from_slice(cli);
    Ok(all)
}

/// Flags read from a file, as `--name value` pairs.
struct FileFlags {
    words: Vec<String>,
}

impl FileFlags {
    fn retain_pairs(&mut self, keep: impl Fn(&str) -> bool) {
        let pairs: Vec<String> = std::mem::take(&mut self.words);
        for pair in pairs.chunks(2) {
            if let [flag, value] = pair {
                if keep(flag.trim_start_matches("--")) {
                    self.words.extend([flag.clone(), value.clone()]);
                }
            }
        }
    }
}

fn flags(text: &str) -> Result<FileFlags, String> {
    let value: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Object(entries) = value else {
        return Err("expected a JSON object of flag names and values".into());
    };
    // Sorted by name whatever the map's order, so the flags (and errors) are stable.
    let mut entries: Vec<(String, Value)> = entries.into_iter().collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut words = Vec::new();
    for (name, value) in entries {
        let valid = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid || name == "relay-config" || name == "help" {
            return Err(format!(
                "`{name}` is not a flag name (the long name without --, such as \"queue-bytes\")"
            ));
        }
        let items = match value {
            Value::Array(items) if REPEATABLE.contains(&name.as_str()) => items,
            // The command line would take the last of several values; a list in the file
            // for a single-valued flag is a mistake, so it says so instead of guessing.
            Value::Array(_) => {
                return Err(format!(
                    "`{name}` takes one value, not a list (only {} take a list)",
                    REPEATABLE.join(", ")
                ))
            }
            one => vec![one],
        };
        for item in items {
            let text = match item {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                _ => {
                    return Err(format!(
                        "`{name}`: expected a string, a number or a list of them"
                    ))
                }
            };
            words.extend([format!("--{name}"), text]);
        }
    }
    Ok(FileFlags { words })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn the_file_becomes_flags_and_the_command_line_wins() {
        let dir =
            std::env::temp_dir().join(format!("relink-relay-config-test-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("relay.json");
        let written = std::fs::write(
            &path,
            r#"{"upstream": "https://h", "upstream-header": ["a=1", "b=2"], "queue-bytes": 1000, "senders": 2}"#,
        );
        assert!(written.is_ok());
        let p = path.display().to_string();
        assert_eq!(
            expand(&words(&format!("--relay-config {p} --senders 3"))),
            Ok(words(&format!(
                "--queue-bytes 1000 --upstream https://h --upstream-header a=1 --upstream-header b=2 --relay-config {p} --senders 3"
            )))
        );
        assert_eq!(
            expand(&words(&format!("--relay-config={p} --upstream-header c=3"))),
            Ok(words(&format!(
                "--queue-bytes 1000 --senders 2 --upstream https://h --relay-config={p} --upstream-header c=3"
            )))
        );
        assert_eq!(expand(&words("--senders 3")), Ok(words("--senders 3")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn bad_files_say_what_is_wrong() {
        assert!(expand(&words("--relay-config /nonexistent/relay.json"))
            .is_err_and(|e| e.starts_with("--relay-config /nonexistent/relay.json: cannot read")));
        assert!(flags("[1]").is_err_and(|e| e == "expected a JSON object of flag names and values"));
        assert!(flags(r#"{"--senders": 1}"#)
            .is_err_and(|e| e.starts_with("`--senders` is not a flag name")));
        assert!(flags(r#"{"relay-config": "x"}"#).is_err());
        assert!(flags(r#"{"senders": true}"#)
            .is_err_and(|e| e == "`senders`: expected a string, a number or a list of them"));
        assert!(flags("{").is_err_and(|e| e.starts_with("not JSON")));
        assert!(flags(r#"{"workers": [1, 2]}"#).is_err_and(
            |e| e == "`workers` takes one value, not a list (only upstream-header take a list)"
        ));
    }
}
