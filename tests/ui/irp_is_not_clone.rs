// There is one owner at a time: an IRP cannot be copied to keep a second
// handle after passing it down.
use wdmsim::ddk::*;

fn dispatch(next: &DeviceObject, irp: Irp) -> NtStatus {
    let kept = irp.clone();
    let status = io_call_driver(next, irp);
    io_complete_request(kept, IO_NO_INCREMENT);
    status
}

fn main() {
    let _ = dispatch;
}
