//! What happens to I/O in flight when a thread or the process ends (book
//! l.9691–9713; spec 04 §4.2, Case 2): the I/O manager cancels the
//! requests, waits for them, and after five minutes gives up on those
//! still in flight: it reports them and lets the thread go (the driver can
//! then never be unloaded, book l.4099, l.9707).

use super::file::close;
use super::handle::{pending_of_thread, user_handles};
use crate::ke::{Interval, query_interrupt_time, wait_for_single_object};
use crate::sim::clock::TICKS_PER_SECOND;
use crate::status::STATUS_TIMEOUT;
use crate::verifier::{WarningKind, warn};

/// How long the I/O manager waits for cancelled I/O at thread exit.
const CANCELLED_IO_WAIT_TICKS: u64 = 300 * TICKS_PER_SECOND;

/// Cancels the requests in flight that `thread` issued (every thread's
/// with `None`) and waits until they finish, five minutes at most in all.
fn cancel_and_wait(thread: Option<u64>) {
    let pending = pending_of_thread(thread);
    if pending.is_empty() {
        return;
    }
    for request in &pending {
        request.cancel();
    }
    let deadline = query_interrupt_time().saturating_add(CANCELLED_IO_WAIT_TICKS);
    for request in &pending {
        let left = deadline.saturating_sub(query_interrupt_time());
        let status = wait_for_single_object(request.event(), Some(Interval::relative_ticks(left)));
        if status == STATUS_TIMEOUT && request.done().is_none() {
            warn(
                WarningKind::IrpStuckAtThreadExit,
                format!(
                    "{} still in flight five minutes after its thread ended and cancelled it",
                    request.describe()
                ),
            );
        }
    }
}

/// IoCancelThreadIo, as a thread ends: its overlapped requests in flight
/// are cancelled and waited for.
pub(crate) fn cancel_thread_io() {
    cancel_and_wait(Some(crate::ps::current_thread_key()));
}

/// The I/O half of ExitProcess, or of the process being killed (a crash,
/// Ctrl+C): every thread's requests in flight are cancelled and waited
/// for, then each handle still open is closed (IRP_MJ_CLEANUP, then
/// IRP_MJ_CLOSE). Kernel handles are not the process's and stay open.
/// The calling thread goes on: the scenario decides when its threads end.
pub fn exit_process() {
    cancel_and_wait(None);
    for handle in user_handles() {
        // A handle another thread closed meanwhile is simply gone.
        let _ = close(handle);
    }
}
