//! Compressed answers, as kube-apiserver gives them: gzip at level 1 for an answer of at least 128 KiB
//! when the request's Accept-Encoding names `gzip` (client-go and kubectl ask by default; kubestate does
//! not), never for a watch stream.

use std::io::Write as _;

/// The smallest answer the API server compresses.
pub const THRESHOLD: usize = 128 * 1024;

/// Whether the client takes gzip: a `gzip` token in Accept-Encoding, compared as a whole (the API server
/// reads no q-values: `gzip;q=1` does not count).
pub fn accepted(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|h| h.split(',').any(|t| t.trim() == "gzip"))
}

/// `data` gzipped at level 1.
pub fn compress(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 4), flate2::Compression::fast());
    enc.write_all(data)?;
    enc.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_takes_gzip() {
        assert!(accepted(Some("gzip")));
        assert!(accepted(Some("deflate, gzip")));
        assert!(!accepted(Some("gzip;q=1")));
        assert!(!accepted(Some("br")));
        assert!(!accepted(None));
    }

    #[test]
    fn compressed_answers_decompress_to_the_original() {
        use std::io::Read as _;
        let data = b"{\"items\":[]}".repeat(20_000);
        let z = compress(&data).unwrap();
        assert!(z.len() * 10 < data.len());
        let mut back = Vec::new();
        flate2::read::GzDecoder::new(&z[..]).read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
    }
}
