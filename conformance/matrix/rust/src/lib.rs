//! Support of the Rust matrix host (`src/main.rs`, the `matrix` binary): readers for the
//! shared vectors in `conformance/vectors`.

pub mod vectors;
