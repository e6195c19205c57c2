//! Support of the Rust matrix host (`src/main.rs`, the `matrix` binary): readers for the
//! shared vectors in `conformance/vectors`, and the stream and history parts of the data set.

pub mod history;
pub mod streams;
pub mod vectors;
