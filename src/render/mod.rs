//! Plan and report renderings, one file per format.
