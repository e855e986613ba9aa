//! `--bearer-token-file`: both receivers require `authorization: Bearer <token>`, the
//! Collector's `bearertokenauth` for a relay that is reachable beyond the host. The token
//! is compared in constant time (a wrong guess learns nothing from the answer's timing),
//! never logged, and re-read on SIGHUP so it can be rotated without a restart.

use std::path::{Path, PathBuf};
use std::sync::{PoisonError, RwLock};

use hyper::header::HeaderValue;

/// The answer's message when the token is missing or wrong (it names neither).
pub const REFUSED: &str = "missing or wrong bearer token (authorization: Bearer ...)";

/// The expected token.
pub struct BearerToken {
    file: PathBuf,
    token: RwLock<Vec<u8>>,
}

impl BearerToken {
    pub fn load(file: &Path) -> Result<BearerToken, String> {
        Ok(BearerToken {
            file: file.to_path_buf(),
            token: RwLock::new(read(file)?),
        })
    }

    /// Reads the file again; on error the previous token stays.
    pub fn reload(&self) -> Result<(), String> {
        let token = read(&self.file)?;
        *self.token.write().unwrap_or_else(PoisonError::into_inner) = token;
        Ok(())
    }

    /// Whether an `authorization` header carries the token (the scheme is case-insensitive).
    pub fn accepts(&self, header: Option<&HeaderValue>) -> bool {
        let Some(value) = header.map(HeaderValue::as_bytes) else {
            return false;
        };
        let Some((scheme, given)) = value.split_at_checked(7) else {
            return false;
        };
        let expected = self.token.read().unwrap_or_else(PoisonError::into_inner);
        scheme.eq_ignore_ascii_case(b"bearer ") && constant_time_eq(given, &expected)
    }
}

/// The file's first line, trimmed; an empty token is an error (it would let anyone in).
fn read(file: &Path) -> Result<Vec<u8>, String> {
    let flag = format!("--bearer-token-file {}", file.display());
    let text = std::fs::read_to_string(file).map_err(|e| format!("{flag}: cannot read: {e}"))?;
    let token = text.lines().next().unwrap_or_default().trim();
    match token.is_empty() {
        true => Err(format!("{flag}: the file has no token on its first line")),
        false => Ok(token.as_bytes().to_vec()),
    }
}

/// Equal slices in time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let differ = a
        .iter()
        .zip(b)
        .fold(u8::from(a.len() != b.len()), |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(differ) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_token_is_accepted() {
        let dir = std::env::temp_dir().join(format!("relink-auth-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let file = dir.join("token");
        let _ = std::fs::write(&file, "s3cret\n");
        let token = BearerToken::load(&file).unwrap_or_else(|e| panic!("{e}"));
        let check = |v: &str| token.accepts(HeaderValue::from_str(v).ok().as_ref());
        assert!(check("Bearer s3cret"));
        assert!(check("bearer s3cret"));
        assert!(!check("Bearer s3cre"));
        assert!(!check("Bearer s3cretx"));
        assert!(!check("Basic s3cret"));
        assert!(!token.accepts(None));
        let _ = std::fs::write(&file, "rotated");
        assert_eq!(token.reload(), Ok(()));
        assert!(check("Bearer rotated") && !check("Bearer s3cret"));
        let _ = std::fs::write(&file, "\n");
        assert!(token.reload().is_err());
        assert!(check("Bearer rotated"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
