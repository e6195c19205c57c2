//! BLAKE2b-512 (RFC 7693), unkeyed, 64-byte digest: the key digest of the litestash contract,
//! and the shard routing built on it.
//!
//! The hash itself comes from the `blake2b_simd` crate (Debian `librust-blake2b-simd-dev`,
//! built offline from /usr/share/cargo/registry); this module only fixes its parameters
//! (default: 64-byte output, no key, no salt/personal) and derives the shard. The tests below
//! pin those parameters with the RFC "abc" vector and Python hashlib values; the 1000 keys of
//! `conformance/vectors/hash_vectors` are checked in `tests/hash_vectors.rs`.

/// BLAKE2b with a 64-byte output and no key, of `data`.
pub fn blake2b_512(data: &[u8]) -> [u8; 64] {
    *blake2b_simd::blake2b(data).as_array()
}

/// The shard of `key` among `shards`: the first 8 digest bytes as a big-endian u64, mod shards.
pub fn shard_of(key: &[u8], shards: u64) -> u64 {
    let d = blake2b_512(key);
    u64::from_be_bytes(d[..8].try_into().unwrap()) % shards
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn rfc7693_abc() {
        assert_eq!(
            hex(&blake2b_512(b"abc")),
            "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1\
             7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923"
        );
    }

    #[test]
    fn empty_and_block_boundaries() {
        assert_eq!(
            hex(&blake2b_512(b"")),
            "786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419\
             d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce"
        );
        // 128, 129 and 300 bytes cross the block boundary (Python hashlib values).
        assert_eq!(hex(&blake2b_512(&[0u8; 128])[..8]), "865939e120e68054");
        assert_eq!(hex(&blake2b_512(&[0u8; 129])[..8]), "a60edba343e7a693");
        assert_eq!(hex(&blake2b_512(&[0u8; 300])[..8]), "104b2a75c9b7062f");
    }

    #[test]
    fn contract_vectors() {
        assert_eq!(shard_of(b"user:1001", 16), 14);
        assert_eq!(shard_of(b"a", 16), 1);
        assert_eq!(shard_of(b"vec:1", 16), 12);
        assert_eq!(hex(&blake2b_512(b"user:1001")[..8]), "24c580f64b17c1ce");
    }
}
