//! `kube_state_metrics_config_hash`: upstream publishes the first six bytes of the config file's MD5 as a
//! gauge. The digest itself comes from RustCrypto's md-5.

use md5::{Digest, Md5};

pub fn digest(data: &[u8]) -> [u8; 16] {
    Md5::digest(data).into()
}

/// The gauge value: the first six digest bytes read as a little-endian integer (exact in an f64).
pub fn config_hash(data: &[u8]) -> f64 {
    let d = digest(data);
    let mut b = [0u8; 8];
    b[..6].copy_from_slice(&d[..6]);
    u64::from_le_bytes(b) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(d: [u8; 16]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn rfc1321_vectors() {
        assert_eq!(hex(digest(b"")), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(hex(digest(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(hex(digest(b"message digest")), "f96b697d7cb7938d525a2f31aaf161d0");
        assert_eq!(
            hex(digest(b"12345678901234567890123456789012345678901234567890123456789012345678901234567890")),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn hash_is_six_low_bytes() {
        // d4 1d 8c d9 8f 00 → 0x008fd98c1dd4
        assert_eq!(config_hash(b""), 0x008f_d98c_1dd4u64 as f64);
    }
}
