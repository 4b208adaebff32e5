//! The NxCloud block-list client (providers.md §1).
