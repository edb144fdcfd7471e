//! Power manager. So far what a driver that passes power IRPs down needs:
//! PoStartNextPowerIrp and PoCallDriver (book l.6485–6494).

use crate::io::{DeviceObject, Irp, call_driver};
use crate::sim;
use crate::status::NtStatus;

/// PoStartNextPowerIrp: the driver is ready for the next power IRP.
pub fn start_next_power_irp(_irp: &Irp) {
    sim::yield_point();
}

/// PoCallDriver: IoCallDriver for power IRPs.
pub fn call_driver_power(device: &DeviceObject, irp: Irp) -> NtStatus {
    call_driver(device, irp)
}
