//! A driver that pends every read, for measuring completion from a DPC: its
//! IRP_MJ_READ marks the IRP pending (IoMarkIrpPending), parks it in its
//! device extension and returns STATUS_PENDING; a DPC takes it back, copies
//! 4 bytes into the system buffer and completes it (IoCompleteRequest at
//! DISPATCH_LEVEL). What queues the DPC is the benchmark's variable
//! ([`Completer`]). One buffered device, `\Device\BenchPended`, linked as
//! `\??\BenchPended`; create and close just succeed.

use std::sync::Arc;

use super::{complete, named_device, succeed};
use crate::ddk::*;
use crate::io;

/// Who runs the completing DPC.
#[derive(Clone, Copy, Debug)]
pub enum Completer {
    /// The dispatch routine queues it (KeInsertQueueDpc) on its own
    /// processor: in threaded mode it runs when that processor's IRQL is
    /// below DISPATCH_LEVEL, so at once, on the sender's thread.
    Dpc,
    /// As `Dpc`, targeted at processor 1 (KeSetTargetProcessorDpc): the
    /// DPC runs on that processor's thread, a real handoff.
    DpcOnProcessor1,
    /// The dispatch routine sets a timer due at once (KeSetTimer, due time
    /// 0: an absolute time in the past) with the DPC: the timer thread
    /// sends it to the setting processor's DPC thread.
    Timer,
}

/// The IRP waiting for its DPC.
type Slot = Arc<SpinLock<Option<Irp>>>;

/// The device extension.
struct Pender {
    completer: Completer,
    slot: Slot,
    dpc: Dpc,
    timer: Timer,
}

const DATA: [u8; 4] = [1, 2, 3, 4];

fn entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
    driver.major_function[IRP_MJ_CREATE as usize] = Some(succeed);
    driver.major_function[IRP_MJ_CLOSE as usize] = Some(succeed);
    driver.major_function[IRP_MJ_READ as usize] = Some(pend_read);
    STATUS_SUCCESS
}

fn pend_read(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let pender = device.extension::<Pender>();
    io_mark_irp_pending(&mut irp);
    *pender.slot.acquire() = Some(irp);
    match pender.completer {
        Completer::Dpc | Completer::DpcOnProcessor1 => {
            ke_insert_queue_dpc(&pender.dpc, 0, 0);
        }
        Completer::Timer => {
            ke_set_timer(&pender.timer, Interval::ZERO, Some(&pender.dpc));
        }
    }
    STATUS_PENDING
}

/// The DPC: completes the parked IRP with the 4 bytes.
fn complete_parked(slot: &Slot) {
    let Some(mut irp) = slot.acquire_at_dpc_level().take() else { return };
    let mut count = 0;
    if let Some(buffer) = irp.system_buffer_mut() {
        count = buffer.len().min(DATA.len());
        buffer[..count].copy_from_slice(&DATA[..count]);
    }
    complete(irp, STATUS_SUCCESS, count);
}

/// Loads the driver and creates its device; returns the Win32 path that
/// opens it.
pub fn install(completer: Completer) -> Result<String, NtStatus> {
    let driver = io::load_driver("BenchPended", entry)?;
    let slot = Slot::default();
    let parked = Arc::clone(&slot);
    let dpc = Dpc::named("complete", move |_, _, _| complete_parked(&parked));
    if let Completer::DpcOnProcessor1 = completer {
        ke_set_target_processor_dpc(&dpc, 1);
    }
    let pender =
        Pender { completer, slot, dpc, timer: Timer::named("due", TimerType::NotificationTimer) };
    named_device(&driver, "BenchPended", pender, DO_BUFFERED_IO)
}
