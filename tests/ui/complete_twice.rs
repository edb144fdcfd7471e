// An IRP is completed once: IoCompleteRequest consumes it.
use wdmsim::ddk::*;

fn dispatch(_device: &DeviceObject, irp: Irp) -> NtStatus {
    io_complete_request(irp, IO_NO_INCREMENT);
    io_complete_request(irp, IO_NO_INCREMENT);
    STATUS_SUCCESS
}

fn main() {
    let _ = dispatch;
}
