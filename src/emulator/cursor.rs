//! Opaque list cursors pinned to a version of the block list.
//!
//! Meta's cursors decode to `{"offset":…,"versionId":"…"}` (the NxCloud
//! example in docs/platforms.md, NxCloud is one), and a cursor minted before the list
//! changed fails with 139102 (docs/platforms.md, Cloud API). The emulator keeps the same
//! two facts, hex-encoded so clients cannot rely on reading them.

/// A position in one version of one phone's block list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub version: u64,
    /// Index of the first entry the cursor points at.
    pub offset: usize,
}

impl Cursor {
    pub fn encode(self) -> String {
        format!("{}:{}", self.version, self.offset)
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// `None` for anything this emulator did not mint.
    pub fn decode(text: &str) -> Option<Cursor> {
        if text.is_empty() || !text.len().is_multiple_of(2) || text.len() > 80 {
            return None;
        }
        let bytes = (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        let plain = String::from_utf8(bytes).ok()?;
        let (version, offset) = plain.split_once(':')?;
        Some(Cursor {
            version: version.parse().ok()?,
            offset: offset.parse().ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let c = Cursor {
            version: 1_753_847_538_199_970,
            offset: 64_000,
        };
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
    }

    #[test]
    fn garbage_is_refused() {
        for text in ["", "zz", "abc", "3a", "313a", "6e6f", "é1", "3a31"] {
            assert_eq!(Cursor::decode(text), None, "{text:?}");
        }
    }
}
