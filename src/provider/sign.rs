//! NxCloud request signatures (docs/platforms.md, NxCloud).
//!
//! `sign` is the lowercase hex MD5 of
//! `accessKey=…&action=…&bizType=…&ts=…` + `&body=<exact body bytes>` +
//! `&accessSecret=<secret>`. Because the body is signed byte for byte, the
//! client serialises it once and sends those same bytes; the emulator checks
//! the bytes it received. Both sides use this one function.

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use sha2::{Sha256, Sha512};

/// The four signed headers other than `sign`.
#[derive(Debug, Clone, Copy)]
pub struct SignedHeaders<'a> {
    pub access_key: &'a str,
    pub ts: &'a str,
    pub biz_type: &'a str,
    pub action: &'a str,
}

/// Lowercase hex MD5 signature. `body` is `None` only for requests without one.
pub fn sign(headers: SignedHeaders<'_>, body: Option<&[u8]>, secret: &str) -> String {
    let mut md5 = Md5::new();
    // Header names in ASCII order: accessKey < action < bizType < ts.
    md5.update(b"accessKey=");
    md5.update(headers.access_key.as_bytes());
    md5.update(b"&action=");
    md5.update(headers.action.as_bytes());
    md5.update(b"&bizType=");
    md5.update(headers.biz_type.as_bytes());
    md5.update(b"&ts=");
    md5.update(headers.ts.as_bytes());
    if let Some(body) = body {
        md5.update(b"&body=");
        md5.update(body);
    }
    md5.update(b"&accessSecret=");
    md5.update(secret.as_bytes());
    md5.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time comparison, so the emulator does not leak how much of a
/// forged signature matched.
pub fn signatures_match(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Lowercase hex HMAC-SHA256 of `body` under `key`: Meta's
/// `X-Hub-Signature-256: sha256=<this>` on webhook deliveries (Meta's
/// "Webhooks: validate payloads" page). `watch` checks it, the emulator
/// signs with it.
pub fn hmac_sha256_hex(key: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|e| unreachable!("HMAC accepts any key length: {e}"));
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

/// Lowercase hex HMAC-SHA512 of `body` under `key`: WAHA's `X-Webhook-Hmac`
/// (WAHA's webhook docs, "HMAC authentication").
pub fn hmac_sha512_hex(key: &[u8], body: &[u8]) -> String {
    let mut mac = <Hmac<Sha512> as KeyInit>::new_from_slice(key)
        .unwrap_or_else(|e| unreachable!("HMAC accepts any key length: {e}"));
    mac.update(body);
    hex(&mac.finalize().into_bytes())
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 15)] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The one vector NxCloud documents.
    #[test]
    fn documented_vector() {
        let headers = SignedHeaders {
            access_key: "fme2na3kdi3ki",
            ts: "1655710885431",
            biz_type: "1",
            action: "send",
        };
        let body = r#"{"name":"牛小信","id":10001}"#;
        assert_eq!(
            sign(headers, Some(body.as_bytes()), "abciiiko2k3"),
            "87c3560d3331ae23f1021e2025722354"
        );
    }

    #[test]
    fn body_bytes_matter() {
        let headers = SignedHeaders {
            access_key: "k",
            ts: "1",
            biz_type: "2",
            action: "mt",
        };
        let a = sign(headers, Some(br#"{"a":1,"b":2}"#), "s");
        let b = sign(headers, Some(br#"{"b":2,"a":1}"#), "s");
        let c = sign(headers, None, "s");
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert!(signatures_match(&a, &a.clone()));
        assert!(!signatures_match(&a, &b));
    }

    /// RFC 4231 test case 2 ("Jefe").
    #[test]
    fn hmac_vectors() {
        let body = b"what do ya want for nothing?";
        assert_eq!(
            hmac_sha256_hex(b"Jefe", body),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        assert_eq!(
            hmac_sha512_hex(b"Jefe", body),
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        );
    }
}
