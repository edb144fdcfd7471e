//! Drivers and plain-Rust baselines for measuring the I/O path, as
//! `benches/` uses them and as a user benchmarking a scenario of their own
//! can: a three-layer stack and its senders, a direct-I/O device, a device
//! that pends every read for a DPC or timer to complete, and the same
//! three-layer work done by a call chain and by channel hops. Each driver
//! is built on `ddk` like any other; nothing here is on the kernel's path.

pub mod chain;
mod direct;
mod pended;
mod stack3;

pub use direct::install as install_direct;
pub use pended::{Completer, install as install_pended};
pub use stack3::{HOLD_MAX, Stack3};
