// A completion routine that completes the IRP cannot also hand it on.
use wdmsim::ddk::*;

fn routine(_device: Option<&DeviceObject>, irp: Irp, _context: &CompletionContext) -> Completion {
    io_complete_request(irp, IO_NO_INCREMENT);
    Completion::Continue(irp)
}

fn main() {
    let _ = routine;
}
