//! The one place that decides what is transient, and the one backoff loop.
