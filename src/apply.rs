//! Apply a plan: unblocks first, then blocks, in chunks, with per-user outcomes.
