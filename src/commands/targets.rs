//! What plan, apply and drift share before the pipeline runs: the files
//! to load, and the guard flags.

use std::path::PathBuf;

use crate::cli::GuardArgs;
use crate::config::{self, Target};
use crate::safety::Overrides;

/// Load and validate the files. Prints warnings; on any error prints every
/// one and returns `None`, so nothing is sent to any provider.
pub fn load(paths: &[PathBuf]) -> Option<Vec<Target>> {
    load_shard(paths, None)
}

/// [`load`], keeping only the targets of `shard` when one is given. The
/// files are all validated either way: a broken file fails every shard.
pub fn load_shard(paths: &[PathBuf], shard: Option<Shard>) -> Option<Vec<Target>> {
    let loaded = config::load(&or_current_dir(paths));
    // Warnings are shown with -q too: it silences the rendering, not them.
    for w in &loaded.warnings {
        crate::say!("warning: {w}");
    }
    if loaded.errors.is_empty() {
        let mut targets = loaded.targets;
        if let Some(shard) = shard {
            let all = targets.len();
            targets.retain(|t| shard.holds(&t.business_phone));
            crate::info!("shard {shard}: {} of {all} target(s)", targets.len());
        }
        return Some(targets);
    }
    for e in &loaded.errors {
        crate::say!("error: {e}");
    }
    crate::say!(
        "{} error(s) in the files; nothing was sent to any provider.",
        loaded.errors.len()
    );
    None
}

/// The paths a command works on: those given, else the current directory.
pub fn or_current_dir(paths: &[PathBuf]) -> Vec<PathBuf> {
    if paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        paths.to_vec()
    }
}

/// The guard overrides of a run. `--force` is said loudly, whatever `-q`.
pub fn overrides(args: &GuardArgs) -> Overrides {
    if args.force {
        eprintln!("WARNING: --force: every safety guard is OFF for this run.");
    }
    Overrides {
        max_unblocks: args.max_unblocks,
        max_unblock_ratio: args.max_unblock_ratio,
        allow_empty: args.allow_empty,
        force: args.force,
    }
}

/// `--shard K/N`: shard K (1-based) of N. A target belongs to the shard its
/// business phone's canonical digits hash to, with 64-bit FNV-1a: stable
/// across runs, machines and versions (Rust's own hasher is seeded per
/// process), so N jobs given 1/N … N/N split a fleet with no overlap or gap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1-based.
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Does the target with these canonical digits belong to this shard?
    pub fn holds(self, business_phone: &str) -> bool {
        shard_of(business_phone, self.count) == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("{s:?} is not a shard: expected K/N with 1 <= K <= N, e.g. 2/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let index: u32 = k.trim().parse().map_err(|_| bad())?;
        let count: u32 = n.trim().parse().map_err(|_| bad())?;
        if index == 0 || count == 0 || index > count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// The 1-based shard of `count` that these canonical digits hash to.
pub fn shard_of(business_phone: &str, count: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in business_phone.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (hash % u64::from(count)) as u32 + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_many_phones() {
        for count in [1u32, 2, 3, 7, 16] {
            let shards: Vec<Shard> = (1..=count).map(|index| Shard { index, count }).collect();
            let mut sizes = vec![0usize; count as usize];
            for n in 0..20_000u64 {
                let phone = format!("{}", 4_915_100_000_000u64 + n * 7919);
                let holders: Vec<&Shard> = shards.iter().filter(|s| s.holds(&phone)).collect();
                assert_eq!(holders.len(), 1, "{phone} in {count} shards: {holders:?}");
                sizes[holders[0].index as usize - 1] += 1;
            }
            // Spread evenly enough that a matrix job is not left idle.
            let fair = 20_000 / count as usize;
            for size in sizes {
                assert!(
                    size * 10 > fair * 8 && size * 10 < fair * 12,
                    "{count}: {size}"
                );
            }
        }
    }

    #[test]
    fn the_hash_is_stable() {
        // FNV-1a 64 of "" and "a" are published constants; pin the mapping
        // so a change of hash (which would move targets between jobs) is seen.
        assert_eq!(
            shard_of("", u32::MAX),
            (0xcbf2_9ce4_8422_2325u64 % u64::from(u32::MAX)) as u32 + 1
        );
        assert_eq!(
            shard_of("a", u32::MAX),
            (0xaf63_dc4c_8601_ec8cu64 % u64::from(u32::MAX)) as u32 + 1
        );
    }

    #[test]
    fn parses_k_of_n() {
        assert_eq!("2/4".parse(), Ok(Shard { index: 2, count: 4 }));
        assert_eq!("1/1".parse(), Ok(Shard { index: 1, count: 1 }));
        for bad in ["0/4", "5/4", "1/0", "2", "a/b", "", "1/-2"] {
            assert!(bad.parse::<Shard>().is_err(), "{bad}");
        }
    }
}
