//! The webhook signature: `X-Backup-Console-Signature: t=<unix seconds>,v1=<hex>`, where the hex
//! is HMAC-SHA256 with the channel's key over `"<t>.<body>"`. The time inside the signed text
//! lets a receiver refuse an old message replayed (the README shows the check).

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const SIGNATURE_HEADER: &str = "X-Backup-Console-Signature";

/// The header's value for `body` sent at `unix_seconds`.
pub fn signature(key: &[u8], unix_seconds: i64, body: &[u8]) -> String {
    format!("t={unix_seconds},v1={}", hex(&mac(key, unix_seconds, body)))
}

fn mac(key: &[u8], unix_seconds: i64, body: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return Vec::new(),
    };
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.finalize().into_bytes().to_vec()
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?". With t = 0 the
    /// signed text would be "0.<body>", so the vector is checked on the MAC itself.
    #[test]
    fn the_mac_is_hmac_sha256_by_the_rfc_4231_vector() {
        let mut m = Hmac::<Sha256>::new_from_slice(b"Jefe").unwrap();
        m.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&m.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    /// The header signs `"<t>.<body>"` (the value computed independently, with Python's hmac).
    #[test]
    fn the_header_signs_the_time_a_dot_and_the_body() {
        let body = b"{\"event\":\"run_failed\"}";
        assert_eq!(
            signature(b"Jefe", 1_700_000_000, body),
            "t=1700000000,v1=784a12659a6f9fd7ca9cb8deeeba1443f54c1602fe4574080b7914720627d573"
        );
        assert_ne!(
            signature(b"Jefe", 1_700_000_001, body),
            signature(b"Jefe", 1_700_000_000, body)
        );
    }
}
