//! `--playground DIR`: the browser playground (`dist/web/`, built by
//! `host-examples/playground/build.sh`) served next to the OTLP routes, so one
//! `relink serve` gives both the pipeline and the page that explains it.
//!
//! The folder is read once at start into memory: a request can only name a file that was
//! there then (no path is ever joined from a URL, so no traversal), and a missing or
//! unreadable folder is a start-up error rather than a 404 later. The page runs relink in
//! the browser; nothing it is given reaches the relay.

use hyper::body::Bytes;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The largest playground accepted (the built one is about 2 MiB).
const MAX_BYTES: u64 = 64 * 1024 * 1024;
/// Folder depth walked (the built one is 3 deep).
const MAX_DEPTH: usize = 8;

/// One served file; `Bytes`, so a response shares the loaded copy instead of copying it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Asset {
    pub content_type: &'static str,
    pub body: Bytes,
}

/// The playground's files by URL path (`/index.html`, `/pkg/relink_bg.wasm`, ...).
#[derive(Debug, Default)]
pub struct Site {
    files: HashMap<String, Asset>,
}

impl Site {
    /// Reads every file under `dir`. Errors name the folder or file and what is wrong.
    pub fn load(dir: &Path) -> Result<Site, String> {
        let flag = |what: String| format!("--playground {}: {what}", dir.display());
        if !dir.join("index.html").is_file() {
            return Err(flag(
                "no index.html (build the playground with ./build.sh or host-examples/playground/build.sh)".into(),
            ));
        }
        let mut site = Site::default();
        let mut total = 0u64;
        let mut stack: Vec<(PathBuf, String, usize)> = vec![(dir.to_path_buf(), String::new(), 0)];
        while let Some((folder, prefix, depth)) = stack.pop() {
            let entries = std::fs::read_dir(&folder)
                .map_err(|e| flag(format!("{}: {e}", folder.display())))?;
            for entry in entries {
                let entry = entry.map_err(|e| flag(format!("{}: {e}", folder.display())))?;
                let Some(name) = entry.file_name().to_str().map(String::from) else {
                    continue; // Not valid UTF-8: no URL names it.
                };
                if name.starts_with('.') {
                    continue;
                }
                let path = entry.path();
                let url = format!("{prefix}/{name}");
                let kind = entry
                    .file_type()
                    .map_err(|e| flag(format!("{}: {e}", path.display())))?;
                if kind.is_dir() {
                    if depth + 1 < MAX_DEPTH {
                        stack.push((path, url, depth + 1));
                    }
                } else if kind.is_file() {
                    let body = std::fs::read(&path)
                        .map_err(|e| flag(format!("{}: {e}", path.display())))?;
                    total += body.len() as u64;
                    if total > MAX_BYTES {
                        return Err(flag(format!("more than {MAX_BYTES} bytes of files")));
                    }
                    site.files.insert(
                        url,
                        Asset {
                            content_type: content_type(&name),
                            body: Bytes::from(body),
                        },
                    );
                }
            }
        }
        Ok(site)
    }

    /// The file for a request path: `/` is `/index.html`, and so is a folder path ending
    /// in `/` when that folder has one.
    pub fn get(&self, path: &str) -> Option<&Asset> {
        if path.ends_with('/') {
            return self.files.get(&format!("{path}index.html"));
        }
        self.files.get(path)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

/// The media type for a file name. Browsers refuse module scripts that are not served as
/// JavaScript, and `WebAssembly.instantiateStreaming` requires `application/wasm`.
fn content_type(name: &str) -> &'static str {
    let extension = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "wasm" => "application/wasm",
        "json" | "map" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        "pb" | "bin" => "application/x-protobuf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &str)]) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "relink-site-{}-{}",
            std::process::id(),
            files.len()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        for (path, text) in files {
            let file = dir.join(path);
            std::fs::create_dir_all(file.parent().unwrap_or(&dir))
                .unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(&file, text).unwrap_or_else(|e| panic!("{e}"));
        }
        dir
    }

    #[test]
    fn serves_what_the_folder_held_with_its_media_type() {
        let dir = tree(&[
            ("index.html", "<html>"),
            ("js/app.js", "export {}"),
            ("pkg/relink_bg.wasm", "\0asm"),
            ("samples/index.json", "[]"),
            (".hidden", "x"),
        ]);
        let site = Site::load(&dir).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(site.len(), 4);
        let get = |p: &str| {
            site.get(p).map(|a| {
                (
                    a.content_type,
                    String::from_utf8_lossy(&a.body).into_owned(),
                )
            })
        };
        assert_eq!(
            get("/"),
            Some(("text/html; charset=utf-8", "<html>".into()))
        );
        assert_eq!(
            get("/js/app.js"),
            Some(("text/javascript; charset=utf-8", "export {}".into()))
        );
        assert_eq!(
            get("/pkg/relink_bg.wasm"),
            Some(("application/wasm", "\0asm".into()))
        );
        assert_eq!(
            get("/samples/index.json").map(|a| a.0),
            Some("application/json")
        );
        for missing in [
            "/.hidden",
            "/js/../index.html",
            "/../Cargo.toml",
            "/js/",
            "/nope",
        ] {
            assert_eq!(get(missing), None, "{missing}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_folder_without_index_html_is_an_error_naming_it() {
        let dir = tree(&[("app.js", "")]);
        let error = Site::load(&dir).err().unwrap_or_default();
        assert!(
            error.starts_with(&format!("--playground {}: no index.html", dir.display())),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
