// Passing an IRP down and completing it too would complete it twice.
use wdmsim::ddk::*;

fn dispatch(next: &DeviceObject, mut irp: Irp) -> NtStatus {
    io_copy_current_irp_stack_location_to_next(&mut irp);
    let status = io_call_driver(next, irp);
    io_complete_request(irp, IO_NO_INCREMENT);
    status
}

fn main() {
    let _ = dispatch;
}
