//! wdmsim: a deterministic, user-mode simulator of the Windows Driver Model.
//!
//! Principles, in the order they win when they conflict:
//!
//! 1. **Faithful.** Every kernel call the book *Writing Windows WDM Device
//!    Drivers* uses has one counterpart with the same name in snake_case
//!    ([`ddk`]), the same statuses, the same orderings.
//! 2. **Deterministic.** A simulation is a function of (drivers, scenario,
//!    seed): same seed, same trace, byte for byte. Time is virtual.
//! 3. **Concurrent for real.** Several simulated processors, each with its
//!    own IRQL and DPC queue; code is preempted at every kernel call; the
//!    scheduler picks among everything that could happen next, from the seed.
//! 4. **Driver bugs are values.** A broken kernel rule becomes a
//!    [`verifier::BugCheck`] with the real stop code that ends the run and
//!    comes back as an error; it never panics the test process.
//! 5. **Fast when asked.** The same drivers run on OS threads in threaded
//!    mode, for throughput.
//!
//! Start with [`sim::Machine`]; drivers import [`ddk`].

pub mod apps;
pub mod bench;
pub mod cm;
pub mod ddk;
pub mod drivers;
pub mod ex;
pub mod hal;
pub mod io;
pub mod ke;
pub mod ob;
pub mod pnp;
pub mod po;
pub mod ps;
pub mod rtl;
pub mod sim;
pub mod status;
pub mod sync;
pub mod trace;
pub mod verifier;
pub mod win32;
pub mod zw;

pub use sim::{Failure, Machine, Run};
pub use status::NtStatus;

/// The README's examples compile and pass as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
