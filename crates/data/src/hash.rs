//! Small, stable, dependency-free hashing: the file fingerprint and a fast hasher for maps.

pub(crate) use automl_core::FxMap;

/// Hex FNV-1a 64 hash of `bytes` (stable across platforms and versions): the dataset fingerprint.
pub fn fingerprint(bytes: &[u8]) -> String {
    format!("{:016x}", fnv1a64(bytes))
}

/// FNV-1a 64 over `bytes`, processed in 8-byte words for speed (still a fixed, stable function).
pub(crate) fn fnv1a64(bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]);
        h ^= w;
        h = h.wrapping_mul(PRIME);
        h ^= h >> 29;
    }
    for &b in chunks.remainder() {
        h ^= b as u64;
        h = h.wrapping_mul(PRIME);
    }
    h ^ (bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_is_stable_and_sensitive() {
        assert_eq!(fingerprint(b"a,b\n1,2\n"), fingerprint(b"a,b\n1,2\n"));
        assert_ne!(fingerprint(b"a,b\n1,2\n"), fingerprint(b"a,b\n1,3\n"));
        assert_ne!(fingerprint(b""), fingerprint(b"\0"));
        assert_eq!(fingerprint(b"").len(), 16);
    }
}
