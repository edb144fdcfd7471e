//! I/O manager. So far: connecting interrupts (IoConnectInterrupt).

mod irq;

pub use irq::{connect_interrupt, disconnect_interrupt};
