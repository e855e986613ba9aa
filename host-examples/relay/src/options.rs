//! The `relink serve` command line, parsed into [`ServeOptions`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// The usage text of `relink serve`.
pub const USAGE: &str = "usage: relink serve [--listen ADDR] [--component FILE] [--config FILE]
                    [--upstream http://HOST:PORT] [--out FILE] [--max-body BYTES]
                    [--workers N] [--log-interval SECONDS] [--playground DIR]

  --listen ADDR         address to accept OTLP/HTTP on (default 127.0.0.1:4318)
  --component FILE      the relink component (default dist/relink.wasm)
  --config FILE         relink configuration JSON (default: the built-in defaults, `{}`)
  --upstream URL        forward relinked requests to URL/v1/traces (plain http)
  --out FILE            append each relinked request to FILE as one OTLP/JSON line
  --max-body BYTES      largest accepted body, before and after gzip (default 16777216)
  --workers N           requests handled at once (default 4)
  --log-interval SECS   print the counters every SECS seconds on stderr; 0 = never (default 60)
  --playground DIR      also serve the browser playground (dist/web) at GET /";

/// What `relink serve` was asked to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub component: PathBuf,
    /// `None`: the built-in defaults.
    pub config: Option<PathBuf>,
    /// Base URL; requests go to `{upstream}/v1/traces`.
    pub upstream: Option<String>,
    pub out: Option<PathBuf>,
    pub max_body: usize,
    pub workers: usize,
    /// `None`: no periodic log line.
    pub log_interval: Option<Duration>,
    /// The built playground folder to serve at `GET /`; `None`: not served.
    pub playground: Option<PathBuf>,
}

impl Default for ServeOptions {
    fn default() -> ServeOptions {
        ServeOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 4318)),
            component: PathBuf::from("dist/relink.wasm"),
            config: None,
            upstream: None,
            out: None,
            max_body: 16 * 1024 * 1024,
            workers: 4,
            log_interval: Some(Duration::from_secs(60)),
            playground: None,
        }
    }
}

impl ServeOptions {
    /// Parses the words after `serve`. Errors are one line naming the flag.
    pub fn parse(words: &[String]) -> Result<ServeOptions, String> {
        let mut options = ServeOptions::default();
        let mut iter = words.iter();
        while let Some(word) = iter.next() {
            let (flag, inline) = match word.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (word.as_str(), None),
            };
            if matches!(flag, "-h" | "--help") {
                return Err(USAGE.to_string());
            }
            let value = match inline {
                Some(v) => v,
                None => iter
                    .next()
                    .cloned()
                    .ok_or_else(|| format!("{flag} needs a value"))?,
            };
            match flag {
                "--listen" => {
                    options.listen = value.parse().map_err(|_| {
                        format!("--listen: `{value}` is not an address like 127.0.0.1:4318")
                    })?;
                }
                "--component" => options.component = PathBuf::from(value),
                "--config" => options.config = Some(PathBuf::from(value)),
                "--upstream" => options.upstream = Some(upstream_base(&value)?),
                "--out" => options.out = Some(PathBuf::from(value)),
                "--playground" => options.playground = Some(PathBuf::from(value)),
                "--max-body" => options.max_body = positive(flag, &value)?,
                "--workers" => options.workers = positive(flag, &value)?,
                "--log-interval" => {
                    let secs: u64 = value.parse().map_err(|_| {
                        format!("--log-interval: `{value}` is not a number of seconds")
                    })?;
                    options.log_interval = (secs > 0).then(|| Duration::from_secs(secs));
                }
                other => return Err(format!("unknown option `{other}`\n{USAGE}")),
            }
        }
        Ok(options)
    }
}

fn positive(flag: &str, value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("{flag}: `{value}` is not a positive integer")),
    }
}

/// Checks an upstream base URL (plain `http://host:port[/prefix]`) and drops a trailing
/// slash, so `{base}/v1/traces` is well formed.
fn upstream_base(value: &str) -> Result<String, String> {
    let rest = value.strip_prefix("http://").ok_or_else(|| {
        format!("--upstream: `{value}` must start with http:// (the relay speaks plain HTTP; put TLS in a collector)")
    })?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(format!("--upstream: `{value}` has no host"));
    }
    Ok(value.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn defaults_and_every_flag() {
        assert_eq!(ServeOptions::parse(&[]), Ok(ServeOptions::default()));
        let parsed = ServeOptions::parse(&words(
            "--listen 0.0.0.0:9000 --component c.wasm --config r.json --upstream http://h:4318/ \
             --out o.jsonl --max-body=1024 --workers 2 --log-interval 0 --playground dist/web",
        ));
        assert_eq!(
            parsed,
            Ok(ServeOptions {
                listen: SocketAddr::from(([0, 0, 0, 0], 9000)),
                component: PathBuf::from("c.wasm"),
                config: Some(PathBuf::from("r.json")),
                upstream: Some("http://h:4318".into()),
                out: Some(PathBuf::from("o.jsonl")),
                max_body: 1024,
                workers: 2,
                log_interval: None,
                playground: Some(PathBuf::from("dist/web")),
            })
        );
    }

    #[test]
    fn errors_name_the_flag() {
        assert_eq!(
            ServeOptions::parse(&words("--max-body 0")),
            Err("--max-body: `0` is not a positive integer".into())
        );
        assert_eq!(
            ServeOptions::parse(&words("--listen")),
            Err("--listen needs a value".into())
        );
        assert_eq!(
            ServeOptions::parse(&words("--listen nowhere")),
            Err("--listen: `nowhere` is not an address like 127.0.0.1:4318".into())
        );
        assert_eq!(
            ServeOptions::parse(&words("--upstream https://x")),
            Err("--upstream: `https://x` must start with http:// (the relay speaks plain HTTP; put TLS in a collector)".into())
        );
        assert_eq!(
            ServeOptions::parse(&words("--upstream http://")),
            Err("--upstream: `http://` has no host".into())
        );
        assert!(ServeOptions::parse(&words("--bogus 1"))
            .is_err_and(|e| e.starts_with("unknown option `--bogus`")));
    }
}
