//! One module per subcommand: clap arguments and the wiring to library crates.

pub mod audit;
pub mod bom;
pub mod data;
pub mod guard;
pub mod limits;
pub mod scan;
pub mod sign;
