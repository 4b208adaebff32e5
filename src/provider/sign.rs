//! NxCloud request signatures (providers.md §1).
