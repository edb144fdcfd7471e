//! What happens to I/O in flight when its caller goes away (book
//! l.9689–9713, spec 04 §4.2): CloseHandle sends IRP_MJ_CLEANUP at once and
//! IRP_MJ_CLOSE only when the file's IRPs are done (Case 3); a thread that
//! ends has its requests cancelled and waited for, five minutes at most
//! (Case 2); ExitProcess also closes every handle. The driver here queues
//! reads in a cancel-safe queue (IoCsq*), the safe pattern for all of it.

use std::fmt::Debug;

use crate::support::{Bench, Joiner, spawn};
use wdmsim::ddk::*;
use wdmsim::verifier::WarningKind;
use wdmsim::win32::*;
use wdmsim::{Machine, io};

const IOCTL_COMPLETE_NEXT: u32 =
    ctl_code(FILE_DEVICE_UNKNOWN, 0x902, METHOD_BUFFERED, FILE_ANY_ACCESS);

/// Switch: cleanup leaves the file's reads queued (as the book's DebugPrint,
/// which has no cleanup handler).
const NO_CLEANUP: &str = "Csq.no_cleanup";
/// Switch: reads are held without a cancel routine (a driver that cannot
/// be cancelled).
const UNCANCELLABLE: &str = "Csq.uncancellable";

struct Extension {
    csq: IoCsq,
    /// Reads held without a cancel routine.
    stuck: SpinLock<Vec<Irp>>,
}

fn ext(device: &DeviceObject) -> &Extension {
    device.extension::<Extension>()
}

fn log(line: impl Into<String>) {
    Bench::current().log.push(line);
}

fn csq_entry(driver: &mut DriverObject, _path: &str) -> NtStatus {
    driver.major_function[IRP_MJ_CREATE as usize] = Some(succeed);
    driver.major_function[IRP_MJ_CLOSE as usize] = Some(close);
    driver.major_function[IRP_MJ_CLEANUP as usize] = Some(cleanup);
    driver.major_function[IRP_MJ_READ as usize] = Some(read);
    driver.major_function[IRP_MJ_DEVICE_CONTROL as usize] = Some(complete_next);
    let extension =
        Extension { csq: io_csq_initialize(cancelled), stuck: SpinLock::new(Vec::new()) };
    let device = match io_create_device(
        driver.driver(),
        extension,
        Some("\\Device\\Csq0"),
        FILE_DEVICE_UNKNOWN,
        0,
        false,
    ) {
        Ok(device) => device,
        Err(status) => return status,
    };
    device.set_flags(DO_BUFFERED_IO);
    io_create_symbolic_link("\\??\\Csq0", "\\Device\\Csq0")
}

fn complete(mut irp: Irp, status: NtStatus, information: usize) -> NtStatus {
    *irp.io_status_mut() = IoStatusBlock { status, information };
    io_complete_request(irp, IO_NO_INCREMENT);
    status
}

fn succeed(_device: &DeviceObject, irp: Irp) -> NtStatus {
    complete(irp, STATUS_SUCCESS, 0)
}

fn close(_device: &DeviceObject, irp: Irp) -> NtStatus {
    log("close");
    complete(irp, STATUS_SUCCESS, 0)
}

fn read(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    if Bench::current().is_set(UNCANCELLABLE) {
        io_mark_irp_pending(&mut irp);
        ext(device).stuck.acquire().push(irp);
    } else {
        io_csq_insert_irp(&ext(device).csq, irp);
    }
    STATUS_PENDING
}

/// CsqCompleteCanceledIrp.
fn cancelled(device: &DeviceObject, irp: Irp) {
    log("read cancelled");
    csq_complete_canceled_irp(device, irp);
}

/// IRP_MJ_CLEANUP: cancels the closing file's reads (book l.11013–11019).
fn cleanup(device: &DeviceObject, irp: Irp) -> NtStatus {
    log("cleanup");
    if !Bench::current().is_set(NO_CLEANUP) {
        let file = io_get_current_irp_stack_location(&irp).file_object.clone();
        let mine = |queued: &Irp| {
            io_get_current_irp_stack_location(queued).file_object.as_ref() == file.as_ref()
        };
        while let Some(read) = io_csq_remove_next_irp(&ext(device).csq, mine) {
            log("read cancelled by cleanup");
            complete(read, STATUS_CANCELLED, 0);
        }
    }
    complete(irp, STATUS_SUCCESS, 0)
}

/// Completes the oldest queued read with "abc".
fn complete_next(device: &DeviceObject, irp: Irp) -> NtStatus {
    if let Some(mut read) = io_csq_remove_next_irp(&ext(device).csq, |_| true) {
        if let Some(buffer) = read.system_buffer_mut() {
            let n = buffer.len().min(3);
            buffer[..n].copy_from_slice(&b"abc"[..n]);
        }
        log("read completed");
        complete(read, STATUS_SUCCESS, 3);
    }
    complete(irp, STATUS_SUCCESS, 0)
}

fn load() -> (Bench, DeviceObject) {
    let bench = Bench::install();
    let driver = io::load_driver("Csq", csq_entry).expect("loads");
    let device = driver.devices().remove(0);
    (bench, device)
}

fn open(flags: u32) -> Handle {
    let h = create_file("\\\\.\\Csq0", GENERIC_READ, 0, OPEN_EXISTING, flags);
    assert_ne!(h, INVALID_HANDLE_VALUE, "error {}", get_last_error());
    h
}

fn complete_one() {
    let h = open(0);
    let mut returned = 0;
    assert!(device_io_control(h, IOCTL_COMPLETE_NEXT, &[], 0, &mut [], 0, &mut returned));
    close_handle(h);
}

#[test]
fn a_queued_read_completes_with_data_or_is_cancelled_never_both() {
    Machine::sim()
        .processors(3)
        .explore(0..300, || {
            load();
            let h = open(FILE_FLAG_OVERLAPPED);
            let read = read_file_overlapped(h, 3, 0);
            assert_eq!(read.status(), STATUS_PENDING);
            let completer = ps_create_system_thread(complete_one).expect("PASSIVE_LEVEL");
            assert!(cancel_io(h));
            let mut bytes = 0;
            let ok = get_overlapped_result(&read, &mut bytes, true);
            match read.io_status().map(|s| s.status) {
                Some(STATUS_SUCCESS) => assert!(ok && bytes == 3 && read.buffer() == b"abc"),
                Some(STATUS_CANCELLED) => {
                    assert!(!ok && bytes == 0 && get_last_error() == ERROR_OPERATION_ABORTED)
                }
                other => panic!("unexpected {other:?}"),
            }
            ke_wait_for_single_object(&completer, None);
            close_handle(h);
        })
        .assert_ok();
}

/// Sends a kernel-built read to the device while another thread cancels
/// it (before IoCsqInsertIrp sets the cancel routine, while it is queued,
/// or after it was taken off the queue) and a third completes the next
/// queued read: the read's status, and whether IoCancelIrp found a cancel
/// routine to call.
fn cancel_at_any_point() -> (NtStatus, bool) {
    let (_, device) = load();
    let done = Event::new(EventType::NotificationEvent, false);
    let (irp, status) =
        io_build_synchronous_fsd_request(IRP_MJ_READ, &device, &[0; 3], 3, 0, &done)
            .expect("allocated");
    let handle = irp.cancel_handle();
    let routine_called = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let called = routine_called.clone();
    let canceller = ps_create_system_thread(move || {
        called.store(io_cancel_irp(&handle), std::sync::atomic::Ordering::Relaxed);
    })
    .expect("PASSIVE_LEVEL");
    let completer = ps_create_system_thread(complete_one).expect("PASSIVE_LEVEL");
    assert_eq!(io_call_driver(&device, irp), STATUS_PENDING);
    ke_wait_for_single_object(&done, None);
    ke_wait_for_single_object(&canceller, None);
    ke_wait_for_single_object(&completer, None);
    let iosb = status.io_status().expect("written");
    match iosb.status {
        STATUS_SUCCESS => assert_eq!((iosb.information, status.output()), (3, b"abc".to_vec())),
        STATUS_CANCELLED => assert_eq!(iosb.information, 0),
        other => panic!("unexpected {other:?}"),
    }
    (iosb.status, routine_called.load(std::sync::atomic::Ordering::Relaxed))
}

#[test]
fn a_cancel_at_any_point_of_the_queue_completes_the_irp_exactly_once() {
    let mut outcomes = std::collections::BTreeSet::new();
    for seed in 0..300 {
        let run = Machine::sim().processors(2).seed(seed).run(cancel_at_any_point);
        outcomes.insert(*run.value_ref());
        assert!(run.warnings.is_empty(), "{:?}", run.warnings);
    }
    // Every interleaving is reached: completed; cancelled while queued (the
    // queue's cancel routine ran); cancelled before IoCsqInsertIrp could
    // queue it (no routine to call: the queue saw Irp->Cancel itself).
    let want = [(STATUS_SUCCESS, false), (STATUS_CANCELLED, true), (STATUS_CANCELLED, false)];
    assert!(want.iter().all(|w| outcomes.contains(w)), "{outcomes:?}");
}

/// Under seed `seed`, with a driver that leaves reads queued at cleanup:
/// `issue` starts a 3-byte read on a handle opened with `flags`; the handle
/// is closed; another handle's IOCTL completes the read and `finish` waits
/// for it. Asserts the driver's log: CLEANUP alone while the read still
/// holds the file, then the read's completion, then the helper handle's
/// cleanup and close and the deferred close in either order. Returns what
/// `finish` saw.
fn close_under_a_held_read<R: 'static, T: Debug + Send + 'static>(
    seed: u64,
    flags: u32,
    issue: fn(Handle) -> R,
    finish: fn(R) -> T,
) -> T {
    let run = Machine::sim().processors(2).seed(seed).run(move || {
        let (bench, _) = load();
        bench.set(NO_CLEANUP, 1);
        let h = open(flags);
        let read = issue(h);
        assert!(close_handle(h));
        let before = bench.log.lines();
        complete_one();
        let seen = finish(read);
        // Let the deferred close run.
        sleep(1);
        (before, bench.log.lines(), seen)
    });
    let (before, mut after, seen) = run.value();
    assert_eq!(before, ["cleanup"], "seed {seed}");
    assert_eq!(after[..2], ["cleanup", "read completed"], "seed {seed}");
    after[2..].sort();
    assert_eq!(after[2..], ["cleanup", "close", "close"], "seed {seed}");
    seen
}

#[test]
fn close_handle_sends_cleanup_and_the_close_waits_for_the_files_irps() {
    for seed in 0..50 {
        let iosb = close_under_a_held_read(
            seed,
            FILE_FLAG_OVERLAPPED,
            |h| read_file_overlapped(h, 3, 0),
            block_on,
        );
        assert_eq!(iosb, Some(IoStatusBlock { status: STATUS_SUCCESS, information: 3 }));
    }
}

/// The same with a synchronous read another thread has in flight on the
/// handle: its IRP still refers to the file, so CLOSE waits for it too
/// (NT sends CLOSE when the file object's last reference goes).
#[test]
fn the_close_waits_for_a_synchronous_read_another_thread_has_in_flight() {
    for seed in 0..50 {
        let issue = |h| {
            let reader = spawn(move || {
                let (mut buffer, mut n) = ([0u8; 3], 0);
                let ok = read_file(h, &mut buffer, 3, &mut n);
                (ok, n, buffer)
            });
            // The reader runs while this thread sleeps: its read is queued.
            sleep(1);
            reader
        };
        let read = close_under_a_held_read(seed, 0, issue, Joiner::join);
        assert_eq!(read, (true, 3, *b"abc"), "seed {seed}");
    }
}

#[test]
fn a_cleanup_handler_cancels_the_files_read_and_close_follows_at_once() {
    let run = Machine::sim().processors(2).run(|| {
        let (bench, _) = load();
        let h = open(FILE_FLAG_OVERLAPPED);
        let read = read_file_overlapped(h, 3, 0);
        assert!(close_handle(h));
        let lines = bench.log.lines();
        (lines, read.io_status())
    });
    let (lines, iosb) = run.value();
    assert_eq!(lines, ["cleanup", "read cancelled by cleanup", "close"]);
    assert_eq!(iosb, Some(IoStatusBlock { status: STATUS_CANCELLED, information: 0 }));
}

#[test]
fn a_thread_that_ends_with_a_read_in_flight_has_it_cancelled_first() {
    let run = Machine::sim().processors(2).run(|| {
        let (bench, _) = load();
        let h = open(FILE_FLAG_OVERLAPPED);
        let reader = ps_create_system_thread(move || {
            let read = read_file_overlapped(h, 3, 0);
            assert_eq!(read.status(), STATUS_PENDING);
            // Ends without waiting: the I/O manager cancels the read.
        })
        .expect("PASSIVE_LEVEL");
        ke_wait_for_single_object(&reader, None);
        let at_exit = bench.log.lines();
        close_handle(h);
        at_exit
    });
    assert_eq!(run.value(), ["read cancelled"]);
}

#[test]
fn a_read_nobody_can_cancel_is_waited_for_five_minutes_then_reported() {
    let run = Machine::sim().run(|| {
        let (bench, _) = load();
        bench.set(UNCANCELLABLE, 1);
        let h = open(FILE_FLAG_OVERLAPPED);
        let reader = ps_create_system_thread(move || {
            read_file_overlapped(h, 3, 0);
        })
        .expect("PASSIVE_LEVEL");
        let started = ke_query_interrupt_time();
        ke_wait_for_single_object(&reader, None);
        ke_query_interrupt_time() - started
    });
    let waited = *run.value_ref();
    assert!((300 * 10_000_000..301 * 10_000_000).contains(&waited), "{waited}");
    assert_eq!(run.warnings.len(), 1);
    assert_eq!(run.warnings[0].kind, WarningKind::IrpStuckAtThreadExit);
    assert!(run.trace.to_string().contains("WARNING IRP"), "{}", run.trace.tail(5));
}

#[test]
fn exit_process_cancels_every_threads_reads_then_closes_the_user_handles() {
    let run = Machine::sim().processors(2).run(|| {
        let (bench, _) = load();
        bench.set(NO_CLEANUP, 1);
        let kernel = zw_create_file("\\Device\\Csq0", GENERIC_READ, 0, FILE_OPEN).expect("opens");
        let (a, b) = (open(FILE_FLAG_OVERLAPPED), open(FILE_FLAG_OVERLAPPED));
        let read_a = read_file_overlapped(a, 3, 0);
        let queued = Event::new(EventType::NotificationEvent, false);
        let signal = queued.clone();
        let other = ps_create_system_thread(move || {
            let read_b = read_file_overlapped(b, 3, 0);
            ke_set_event(&signal, 0, false);
            block_on(read_b);
        })
        .expect("PASSIVE_LEVEL");
        ke_wait_for_single_object(&queued, None);
        exit_process();
        ke_wait_for_single_object(&other, None);
        let lines = bench.log.lines();
        let read_a = read_a.io_status();
        // The kernel handle is still open.
        let still_open = zw_close(kernel);
        (lines, read_a, still_open, close_handle(a))
    });
    let (lines, read_a, still_open, closed_again) = run.value();
    assert_eq!(lines, ["read cancelled", "read cancelled", "cleanup", "close", "cleanup", "close"]);
    assert_eq!(read_a, Some(IoStatusBlock { status: STATUS_CANCELLED, information: 0 }));
    assert_eq!(still_open, STATUS_SUCCESS);
    assert!(!closed_again, "exit_process closed it");
}

#[test]
fn the_run_ends_with_a_background_thread_still_waiting() {
    for machine in [Machine::sim().processors(2), Machine::threaded().processors(2)] {
        let run = machine.run(|| {
            let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
            let counter = ticks.clone();
            ps_create_background_system_thread("poller", move || {
                loop {
                    counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    ke_delay_execution_thread(Interval::relative_ms(10));
                }
            })
            .expect("PASSIVE_LEVEL");
            while ticks.load(std::sync::atomic::Ordering::Relaxed) < 3 {
                ke_delay_execution_thread(Interval::relative_ms(5));
            }
            "done"
        });
        assert_eq!(run.value(), "done");
    }
}
