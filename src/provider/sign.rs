//! NxCloud request signatures (providers.md §1).
//!
//! `sign` is the lowercase hex MD5 of
//! `accessKey=…&action=…&bizType=…&ts=…` + `&body=<exact body bytes>` +
//! `&accessSecret=<secret>`. Because the body is signed byte for byte, the
//! client serialises it once and sends those same bytes; the emulator checks
//! the bytes it received. Both sides use this one function.

use md5::{Digest, Md5};

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
}
