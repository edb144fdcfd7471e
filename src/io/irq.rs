//! IoConnectInterrupt and IoDisconnectInterrupt (book l.11326–11347).

use crate::ke::interrupt;
use crate::ke::{Interrupt, InterruptConfig};
use crate::status::NtStatus;

/// IoConnectInterrupt: connects `isr` (its ServiceContext is what the closure
/// captures) as `config` describes; PASSIVE_LEVEL only. See
/// [`InterruptConfig`] for the statuses.
pub fn connect_interrupt(
    config: InterruptConfig,
    isr: impl Fn() -> bool + Send + Sync + 'static,
) -> Result<Interrupt, NtStatus> {
    interrupt::connect(config, isr)
}

/// IoDisconnectInterrupt: before the device goes away or PnP stops it.
pub fn disconnect_interrupt(interrupt: Interrupt) {
    interrupt::disconnect(interrupt);
}
