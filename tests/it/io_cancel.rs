//! Cancelling IRPs and overlapped I/O: a driver that queues reads, completes
//! them later, and cancels them through its cancel routine (book
//! l.9640–9735), with CancelIo, GetOverlappedResult and futures.

use std::sync::Arc;

use crate::support::bug_check_of;
use wdmsim::ddk::*;
use wdmsim::win32::*;
use wdmsim::{Machine, io};

const IOCTL_COMPLETE_QUEUED: u32 =
    ctl_code(FILE_DEVICE_UNKNOWN, 0x901, METHOD_BUFFERED, FILE_ANY_ACCESS);

/// Reads wait in the queue until the IOCTL completes them or they are
/// cancelled.
#[derive(Default)]
struct Queue {
    reads: SpinLock<Vec<Irp>>,
}

fn queue_of(device: &DeviceObject) -> &Queue {
    device.extension::<Queue>()
}

fn queueing_entry(driver: &mut DriverObject, _path: &str) -> NtStatus {
    driver.major_function[IRP_MJ_CREATE as usize] = Some(succeed);
    driver.major_function[IRP_MJ_CLOSE as usize] = Some(succeed);
    driver.major_function[IRP_MJ_CLEANUP as usize] = Some(succeed);
    driver.major_function[IRP_MJ_READ as usize] = Some(queue_read);
    driver.major_function[IRP_MJ_DEVICE_CONTROL as usize] = Some(complete_queued);
    let device = match io_create_device(
        driver.driver(),
        Queue::default(),
        Some("\\Device\\Queue0"),
        FILE_DEVICE_UNKNOWN,
        0,
        false,
    ) {
        Ok(device) => device,
        Err(status) => return status,
    };
    device.set_flags(DO_BUFFERED_IO);
    io_create_symbolic_link("\\??\\Queue0", "\\Device\\Queue0")
}

fn succeed(_device: &DeviceObject, irp: Irp) -> NtStatus {
    io_complete_request(irp, IO_NO_INCREMENT);
    STATUS_SUCCESS
}

fn queue_read(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    io_mark_irp_pending(&mut irp);
    io_set_cancel_routine(&mut irp, Some(cancel_read));
    queue_of(device).reads.acquire().push(irp);
    STATUS_PENDING
}

/// The cancel routine: whoever takes the IRP off the queue owns it.
fn cancel_read(device: &DeviceObject, cancelled: &CancelledIrp) {
    let irp = {
        let mut reads = queue_of(device).reads.acquire_at_dpc_level();
        reads.iter().position(|irp| cancelled.is(irp)).map(|i| reads.remove(i))
    };
    io_release_cancel_spin_lock(cancelled.cancel_irql());
    if let Some(mut irp) = irp {
        *irp.io_status_mut() = IoStatusBlock { status: STATUS_CANCELLED, information: 0 };
        io_complete_request(irp, IO_NO_INCREMENT);
    }
}

/// Completes every queued read with "abc".
fn complete_queued(device: &DeviceObject, irp: Irp) -> NtStatus {
    let reads: Vec<Irp> = std::mem::take(&mut *queue_of(device).reads.acquire());
    for mut read in reads {
        if io_set_cancel_routine(&mut read, None).is_none() && read.cancel() {
            // IoCancelIrp already took the routine: it runs and finds the
            // queue empty; this side completes the IRP as cancelled.
            *read.io_status_mut() = IoStatusBlock { status: STATUS_CANCELLED, information: 0 };
        } else {
            read.system_buffer_mut().expect("a buffered read").copy_from_slice(b"abc");
            *read.io_status_mut() = IoStatusBlock { status: STATUS_SUCCESS, information: 3 };
        }
        io_complete_request(read, IO_NO_INCREMENT);
    }
    io_complete_request(irp, IO_NO_INCREMENT);
    STATUS_SUCCESS
}

fn open_overlapped() -> Handle {
    let h = create_file("\\\\.\\Queue0", GENERIC_READ, 0, OPEN_EXISTING, FILE_FLAG_OVERLAPPED);
    assert_ne!(h, INVALID_HANDLE_VALUE, "error {}", get_last_error());
    h
}

#[test]
fn an_overlapped_read_pends_and_completes_later() {
    Machine::sim()
        .processors(2)
        .explore(0..100, || {
            io::load_driver("Queue", queueing_entry).expect("loads");
            let h = open_overlapped();
            let read = read_file_overlapped(h, 3, 0);
            assert_eq!(read.status(), STATUS_PENDING);
            assert!(!read.started());
            assert_eq!(get_last_error(), ERROR_IO_PENDING);
            let mut bytes = 0;
            assert!(!get_overlapped_result(&read, &mut bytes, false));
            assert_eq!(get_last_error(), ERROR_IO_INCOMPLETE);

            // Another thread completes it, on whatever processor.
            let completer = ps_create_system_thread(|| {
                let c = create_file("\\\\.\\Queue0", GENERIC_READ, 0, OPEN_EXISTING, 0);
                let mut returned = 0;
                assert!(device_io_control(
                    c,
                    IOCTL_COMPLETE_QUEUED,
                    &[],
                    0,
                    &mut [],
                    0,
                    &mut returned
                ));
                close_handle(c);
            })
            .expect("PASSIVE_LEVEL");
            let iosb = block_on(read);
            assert_eq!(iosb, Some(IoStatusBlock { status: STATUS_SUCCESS, information: 3 }));
            ke_wait_for_single_object(&completer, None);
            close_handle(h);
        })
        .assert_ok();
}

#[test]
fn cancel_io_runs_the_cancel_routine_and_the_caller_sees_operation_aborted() {
    let run = Machine::sim().processors(2).run(|| {
        io::load_driver("Queue", queueing_entry).expect("loads");
        let h = open_overlapped();
        let read = read_file_overlapped(h, 3, 0);
        assert_eq!(read.status(), STATUS_PENDING);
        assert!(cancel_io(h));
        let mut bytes = 7;
        let ok = get_overlapped_result(&read, &mut bytes, true);
        let result = (ok, get_last_error(), read.io_status(), read.buffer());
        close_handle(h);
        result
    });
    assert_eq!(
        run.value(),
        (
            false,
            ERROR_OPERATION_ABORTED,
            Some(IoStatusBlock { status: STATUS_CANCELLED, information: 0 }),
            vec![0, 0, 0]
        )
    );
}

#[test]
fn cancel_racing_completion_completes_each_irp_once_under_every_seed() {
    Machine::sim()
        .processors(3)
        .explore(0..300, || {
            io::load_driver("Queue", queueing_entry).expect("loads");
            let h = open_overlapped();
            let read = Arc::new(read_file_overlapped(h, 3, 0));
            let completer = ps_create_system_thread(|| {
                let c = create_file("\\\\.\\Queue0", GENERIC_READ, 0, OPEN_EXISTING, 0);
                let mut returned = 0;
                device_io_control(c, IOCTL_COMPLETE_QUEUED, &[], 0, &mut [], 0, &mut returned);
                close_handle(c);
            })
            .expect("PASSIVE_LEVEL");
            cancel_io(h);
            let mut bytes = 0;
            let ok = get_overlapped_result(&read, &mut bytes, true);
            let status = read.io_status().expect("written").status;
            // Either the data arrived or the read was cancelled: never both.
            match status {
                STATUS_SUCCESS => assert!(ok && bytes == 3 && read.buffer() == b"abc"),
                STATUS_CANCELLED => assert!(!ok && get_last_error() == ERROR_OPERATION_ABORTED),
                other => panic!("unexpected {other:?}"),
            }
            ke_wait_for_single_object(&completer, None);
            close_handle(h);
        })
        .assert_ok();
}

#[test]
fn cancel_io_leaves_other_threads_requests_alone() {
    let run = Machine::sim().run(|| {
        io::load_driver("Queue", queueing_entry).expect("loads");
        let h = open_overlapped();
        let read = read_file_overlapped(h, 3, 0);
        let other = ps_create_system_thread(move || assert!(cancel_io(h))).expect("PASSIVE_LEVEL");
        ke_wait_for_single_object(&other, None);
        let still_pending = !read.is_complete();
        // Clean up: this thread cancels its own request.
        cancel_io(h);
        let mut bytes = 0;
        get_overlapped_result(&read, &mut bytes, true);
        close_handle(h);
        still_pending
    });
    assert!(run.value());
}

fn completes_with_routine_set(_device: &DeviceObject, mut irp: Irp) -> NtStatus {
    io_set_cancel_routine(&mut irp, Some(cancel_read));
    io_complete_request(irp, IO_NO_INCREMENT);
    STATUS_SUCCESS
}

#[test]
fn completing_with_the_cancel_routine_set_is_0xc9_0x07() {
    let run = Machine::sim().run(|| {
        io::load_driver("Queue", |driver, path| {
            let status = queueing_entry(driver, path);
            driver.major_function[IRP_MJ_READ as usize] = Some(completes_with_routine_set);
            status
        })
        .expect("loads");
        let h = create_file("\\\\.\\Queue0", GENERIC_READ, 0, OPEN_EXISTING, 0);
        let mut buffer = [0u8; 3];
        let mut n = 0;
        read_file(h, &mut buffer, 3, &mut n);
    });
    let check = bug_check_of(&run);
    assert_eq!((check.code, check.params[0]), (0xC9, 0x07));
}

/// The book's DebugPrint cancel routine (l.9756): completes the IRP whether
/// or not it found it in the queue.
fn cancel_without_owning(device: &DeviceObject, cancelled: &CancelledIrp) {
    let irp = {
        let mut reads = queue_of(device).reads.acquire_at_dpc_level();
        reads.iter().position(|irp| cancelled.is(irp)).map(|i| reads.remove(i))
    };
    io_release_cancel_spin_lock(cancelled.cancel_irql());
    if let Some(mut irp) = irp {
        *irp.io_status_mut() = IoStatusBlock { status: STATUS_CANCELLED, information: 0 };
        io_complete_request(irp, IO_NO_INCREMENT);
    }
    cancelled.complete_without_owning();
}

/// Leaves the IRP queued and the cancel spin lock held.
fn cancel_keeping_the_lock(_device: &DeviceObject, _cancelled: &CancelledIrp) {}

/// Completes the cancelled IRP, but with success and data.
fn cancel_with_success(device: &DeviceObject, cancelled: &CancelledIrp) {
    let irp = {
        let mut reads = queue_of(device).reads.acquire_at_dpc_level();
        reads.iter().position(|irp| cancelled.is(irp)).map(|i| reads.remove(i))
    };
    io_release_cancel_spin_lock(cancelled.cancel_irql());
    if let Some(mut irp) = irp {
        *irp.io_status_mut() = IoStatusBlock { status: STATUS_SUCCESS, information: 3 };
        io_complete_request(irp, IO_NO_INCREMENT);
    }
}

thread_local! {
    static ROUTINE: std::cell::Cell<Option<CancelRoutine>> = const { std::cell::Cell::new(None) };
}

fn queue_read_with_chosen_routine(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    io_mark_irp_pending(&mut irp);
    io_set_cancel_routine(&mut irp, ROUTINE.with(|r| r.get()));
    queue_of(device).reads.acquire().push(irp);
    STATUS_PENDING
}

/// Loads the queueing driver, its reads getting `routine`.
fn load_queue_with(routine: CancelRoutine) {
    ROUTINE.with(|r| r.set(Some(routine)));
    io::load_driver("Queue", |driver, path| {
        let status = queueing_entry(driver, path);
        driver.major_function[IRP_MJ_READ as usize] = Some(queue_read_with_chosen_routine);
        status
    })
    .expect("loads");
}

/// Loads the queueing driver with `routine`, pends a read and cancels it.
fn cancel_a_read_with(routine: CancelRoutine) -> wdmsim::Run<Option<IoStatusBlock>> {
    Machine::sim().run(move || {
        load_queue_with(routine);
        let h = open_overlapped();
        let read = read_file_overlapped(h, 3, 0);
        cancel_io(h);
        read.io_status()
    })
}

#[test]
fn a_cancel_routine_completing_an_irp_it_did_not_dequeue_is_0x44() {
    // It finds the IRP, completes it, then completes it again "unowned".
    let run = cancel_a_read_with(cancel_without_owning);
    let check = bug_check_of(&run);
    assert_eq!((check.code, check.code_name()), (0x44, "MULTIPLE_IRP_COMPLETE_REQUESTS"));
}

#[test]
fn the_owners_completion_after_an_unowned_one_is_0x44() {
    // The routine completes "unowned" while the queue still holds the IRP;
    // the IOCTL's completion of it is the second one.
    fn complete_unowned_only(_device: &DeviceObject, cancelled: &CancelledIrp) {
        io_release_cancel_spin_lock(cancelled.cancel_irql());
        cancelled.complete_without_owning();
    }
    let run = Machine::sim().run(|| {
        load_queue_with(complete_unowned_only);
        let h = open_overlapped();
        let _read = read_file_overlapped(h, 3, 0);
        cancel_io(h);
        let c = create_file("\\\\.\\Queue0", GENERIC_READ, 0, OPEN_EXISTING, 0);
        let mut returned = 0;
        device_io_control(c, IOCTL_COMPLETE_QUEUED, &[], 0, &mut [], 0, &mut returned);
    });
    let check = bug_check_of(&run);
    assert_eq!(check.code, 0x44);
    assert!(check.message.contains("completed twice"), "{}", check.message);
}

#[test]
fn a_cancel_routine_returning_with_the_cancel_lock_held_is_0x11b() {
    let run = cancel_a_read_with(cancel_keeping_the_lock);
    let check = bug_check_of(&run);
    assert_eq!((check.code, check.code_name()), (0x11B, "DRIVER_RETURNED_HOLDING_CANCEL_LOCK"));
}

#[test]
fn a_cancelled_irp_completed_with_success_is_a_warning_not_a_stop() {
    let run = cancel_a_read_with(cancel_with_success);
    assert_eq!(run.warnings.len(), 1, "{:?}", run.warnings);
    assert_eq!(run.warnings[0].kind, wdmsim::verifier::WarningKind::CancelledWithoutCancelStatus);
    assert!(run.trace.to_string().contains("WARNING IRP"));
    assert_eq!(run.value(), Some(IoStatusBlock { status: STATUS_SUCCESS, information: 3 }));
}
