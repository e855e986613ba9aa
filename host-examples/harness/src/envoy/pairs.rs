//! Header maps as proxy-wasm moves them across the ABI (`proxy_get_header_map_pairs`,
//! `proxy_set_header_map_pairs`), byte for byte as proxy-wasm-cpp-host's `PairsUtil`:
//! the number of pairs (u32), then each pair's name and value sizes (u32, u32), then each
//! name and value, NUL-terminated. Integers are little-endian (wasm byte order).

/// An HTTP header map: lowercase names, values as bytes, in order, repeats allowed.
pub type HeaderMap = Vec<(String, Vec<u8>)>;

/// Serialises pairs.
pub fn marshal(pairs: &HeaderMap) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&len32(pairs.len()).to_le_bytes());
    for (name, value) in pairs {
        out.extend_from_slice(&len32(name.len()).to_le_bytes());
        out.extend_from_slice(&len32(value.len()).to_le_bytes());
    }
    for (name, value) in pairs {
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        out.extend_from_slice(value);
        out.push(0);
    }
    out
}

/// `PROXY_WASM_HOST_PAIRS_MAX_BYTES` and `PROXY_WASM_HOST_PAIRS_MAX_COUNT` (cpp-host
/// `include/proxy-wasm/limits.h`): larger input gives no pairs.
const MAX_BYTES: usize = 1024 * 1024;
const MAX_COUNT: usize = 1024;

/// Parses serialised pairs; like `PairsUtil::toPairs`, anything malformed (including bytes
/// left over after the last pair, or input over the limits) gives no pairs.
pub fn unmarshal(bytes: &[u8]) -> HeaderMap {
    parse(bytes).unwrap_or_default()
}

fn parse(bytes: &[u8]) -> Option<HeaderMap> {
    if bytes.len() > MAX_BYTES {
        return None;
    }
    let count = usize::try_from(read_u32(bytes, 0)?).ok()?;
    if count > MAX_COUNT {
        return None;
    }
    let mut sizes = Vec::new();
    for i in 0..count {
        let at = 4 + i.checked_mul(8)?;
        sizes.push((read_u32(bytes, at)?, read_u32(bytes, at + 4)?));
    }
    let mut pos = 4 + count.checked_mul(8)?;
    let mut pairs = Vec::with_capacity(count);
    for (name_len, value_len) in sizes {
        let name = take_nul_terminated(bytes, &mut pos, usize::try_from(name_len).ok()?)?;
        let value = take_nul_terminated(bytes, &mut pos, usize::try_from(value_len).ok()?)?;
        pairs.push((String::from_utf8_lossy(name).into_owned(), value.to_vec()));
    }
    (pos == bytes.len()).then_some(pairs)
}

fn take_nul_terminated<'a>(bytes: &'a [u8], pos: &mut usize, len: usize) -> Option<&'a [u8]> {
    let text = bytes.get(*pos..pos.checked_add(len)?)?;
    if bytes.get(pos.checked_add(len)?) != Some(&0) {
        return None;
    }
    *pos += len + 1;
    Some(text)
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let word: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_le_bytes(word))
}

fn len32(len: usize) -> u32 {
    u32::try_from(len).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn marshals_count_then_sizes_then_nul_terminated_strings() {
        let bytes = marshal(&map(&[(":path", "/v1/traces"), ("a", "")]));
        let mut expected = vec![2, 0, 0, 0, 5, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];
        expected.extend_from_slice(b":path\0/v1/traces\0a\0\0");
        assert_eq!(bytes, expected);
    }

    #[test]
    fn empty_map_is_a_zero_count() {
        assert_eq!(marshal(&Vec::new()), vec![0, 0, 0, 0]);
    }

    #[test]
    fn unmarshal_inverts_marshal() {
        let pairs = map(&[
            ("content-type", "application/x-protobuf"),
            ("x", "1"),
            ("x", "2"),
        ]);
        assert_eq!(unmarshal(&marshal(&pairs)), pairs);
    }

    #[test]
    fn malformed_input_gives_no_pairs() {
        let mut bytes = marshal(&map(&[("k", "v")]));
        assert_eq!(unmarshal(&bytes[..bytes.len() - 1]), Vec::new());
        let last = bytes.len() - 1;
        bytes[last] = b'x';
        assert_eq!(unmarshal(&bytes), Vec::new());
        assert_eq!(
            unmarshal(&[1, 0, 0, 0, 255, 255, 255, 255, 0, 0, 0, 0]),
            Vec::new()
        );
        assert_eq!(unmarshal(&[]), Vec::new());
    }

    #[test]
    fn trailing_bytes_or_too_many_pairs_give_no_pairs() {
        let mut bytes = marshal(&map(&[("k", "v")]));
        bytes.push(0);
        assert_eq!(unmarshal(&bytes), Vec::new());
        assert_eq!(unmarshal(&[1, 4, 0, 0]), Vec::new());
    }
}
