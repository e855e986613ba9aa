//! JSON helpers every reader of input JSON shares: [`strict`] parsing (duplicate keys are
//! errors), typed [`fields`] that name the field in every error, and a [`borrowed`] tree
//! for the readers that skip the `Value`.

pub(crate) mod borrowed;
pub(crate) mod fields;
pub(crate) mod strict;

/// An event's bytes without a leading UTF-8 byte order mark. JSON texts must not start with
/// one, but RFC 8259 lets parsers ignore it, and files saved by Windows tools (the .NET
/// Lambda samples) carry it.
pub(crate) fn without_bom(bytes: &[u8]) -> &[u8] {
    bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes)
}

/// JSON text with every lone UTF-16 surrogate escape (`\ud83d` not followed by a low one, or
/// a low one alone) replaced by `\ufffd`, or `None` when it has none. JSON allows such
/// escapes but they name no character, so serde_json refuses them; JavaScript writes them
/// when a string was cut inside a surrogate pair (the OTel JS SDK truncating an attribute
/// value does), and the Collector's JSON reader reads them as U+FFFD, as this does.
pub(crate) fn repair_lone_surrogates(text: &[u8]) -> Option<Vec<u8>> {
    let unit = |at: usize| -> Option<u32> {
        let digits = text.get(at..at + 6)?.strip_prefix(b"\\u")?;
        digits
            .iter()
            .try_fold(0, |unit, &d| Some(unit << 4 | char::from(d).to_digit(16)?))
    };
    let (mut out, mut copied, mut at) = (Vec::new(), 0, 0);
    while let Some(offset) = text
        .get(at..)
        .and_then(|rest| rest.iter().position(|&b| b == b'\\'))
    {
        at += offset;
        let lone = match unit(at) {
            Some(0xD800..=0xDBFF) => match unit(at + 6) {
                Some(0xDC00..=0xDFFF) => {
                    at += 12;
                    continue;
                }
                _ => true,
            },
            Some(0xDC00..=0xDFFF) => true,
            Some(_) => false,
            // Any other escape (`\\`, `\"`, ...) is two bytes.
            None => {
                at += 2;
                continue;
            }
        };
        if lone {
            out.extend_from_slice(text.get(copied..at).unwrap_or_default());
            out.extend_from_slice(b"\\ufffd");
            copied = at + 6;
        }
        at += 6;
    }
    if copied == 0 {
        return None;
    }
    out.extend_from_slice(text.get(copied..).unwrap_or_default());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::repair_lone_surrogates as repair;

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let fixed =
            |s: &str| repair(s.as_bytes()).map(|b| String::from_utf8_lossy(&b).into_owned());
        assert_eq!(fixed(r#""q=ab\ud83d""#).as_deref(), Some(r#""q=ab\ufffd""#));
        assert_eq!(
            fixed(r#"["\udc00x", "\uD800\u0041"]"#).as_deref(),
            Some(r#"["\ufffdx", "\ufffd\u0041"]"#)
        );
        // A pair, an escaped backslash before `u`, and plain escapes are left alone.
        assert_eq!(fixed(r#""\ud83d\ude80 \\ud83d \n \u0041""#), None);
        assert_eq!(fixed(r#""cut \ud8"#), None);
        let decoded: serde_json::Value =
            serde_json::from_slice(&repair(br#"{"a":"x\ud83d"}"#).unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(decoded["a"], "x\u{fffd}");
    }
}
