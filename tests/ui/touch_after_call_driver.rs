// After IoCallDriver the IRP belongs to the lower driver (book l.5504).
use wdmsim::ddk::*;

fn dispatch(next: &DeviceObject, mut irp: Irp) -> NtStatus {
    io_skip_current_irp_stack_location(&mut irp);
    let status = io_call_driver(next, irp);
    irp.io_status_mut().information = 0;
    status
}

fn main() {
    let _ = dispatch;
}
