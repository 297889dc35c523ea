//! One module per subcommand: clap arguments and the wiring to library crates.

pub mod bom;
pub mod audit;
pub mod data;
pub mod guard;
pub mod scan;
pub mod sign;
