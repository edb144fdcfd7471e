//! Driver Verifier's I/O checks: each rule broken by a small driver, with
//! the stop code and its parameter 1 (the sub-code, for 0xC9) pinned, next
//! to a correct variant of the same driver that runs clean; and what two of
//! the broken drivers do on a machine without I/O verification.
//!
//! Every test driver is the same "Toy" driver, whose IOCTL routine is the
//! one its device was created with ([`Toy::ioctl`]): the routine is the
//! small driver under test.

use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::support::bug_check_of;
use wdmsim::ddk::*;
use wdmsim::io::{DispatchFn, load_driver};
use wdmsim::verifier::BugCheck;
use wdmsim::win32::{
    GENERIC_READ, GENERIC_WRITE, INVALID_HANDLE_VALUE, OPEN_EXISTING, close_handle, create_file,
    device_io_control, get_last_error, nt_device_io_control_file,
};
use wdmsim::{Machine, Run};

// ---------------------------------------------------------------------------
// The Toy driver and how the tests drive it
// ---------------------------------------------------------------------------

/// A Toy device's extension: its IOCTL routine, and the device it forwards
/// to, if any.
struct Toy {
    ioctl: DispatchFn,
    next: Option<DeviceObject>,
}

fn toy_entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
    for major in [IRP_MJ_CREATE, IRP_MJ_CLEANUP, IRP_MJ_CLOSE] {
        driver.major_function[major as usize] = Some(complete_success);
    }
    driver.major_function[IRP_MJ_DEVICE_CONTROL as usize] = Some(toy_ioctl);
    STATUS_SUCCESS
}

fn toy_ioctl(device: &DeviceObject, irp: Irp) -> NtStatus {
    (device.extension::<Toy>().ioctl)(device, irp)
}

fn toy_driver() -> Driver {
    load_driver("Toy", toy_entry).expect("DriverEntry")
}

/// An unnamed, ready Toy device.
fn toy_device(driver: &Driver, ioctl: DispatchFn, next: Option<&DeviceObject>) -> DeviceObject {
    let toy = Toy { ioctl, next: next.cloned() };
    let device =
        io_create_device(driver, toy, None, FILE_DEVICE_UNKNOWN, 0, false).expect("IoCreateDevice");
    device.clear_flags(DO_DEVICE_INITIALIZING);
    device
}

const IOCTL_TOY: u32 = ctl_code(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS);

/// Sends IOCTL_TOY (no input, 8 bytes of output) to `device` as a driver
/// does: IoBuildDeviceIoControlRequest, IoCallDriver, a wait if it pended.
/// Stores the IRP's number in `number` first. Returns the caller's
/// IoStatus, if the I/O manager wrote it.
fn send(device: &DeviceObject, number: &AtomicU32) -> Option<IoStatusBlock> {
    let event = Event::new(EventType::NotificationEvent, false);
    let (irp, request) =
        io_build_device_io_control_request(IOCTL_TOY, device, b"", 8, false, &event)
            .expect("IoBuildDeviceIoControlRequest");
    number.store(irp.number(), Ordering::SeqCst);
    if io_call_driver(device, irp) == STATUS_PENDING {
        ke_wait_for_single_object(&event, None);
    }
    request.io_status()
}

/// Runs `machine` with one Toy device whose IOCTL routine is `ioctl` and
/// sends it IOCTL_TOY. Returns the run and the IRP's number.
fn run_toy(machine: Machine, ioctl: DispatchFn) -> (Run<Option<IoStatusBlock>>, u64) {
    let number = Arc::new(AtomicU32::new(u32::MAX));
    let n = number.clone();
    let run = machine.run(move || {
        let driver = toy_driver();
        let device = toy_device(&driver, ioctl, None);
        send(&device, &n)
    });
    (run, number.load(Ordering::SeqCst).into())
}

/// Runs `machine` with two Toy devices, `upper` forwarding to `lower`
/// (attached to it or not), and sends IOCTL_TOY to the upper one. Returns
/// the run and the IRP's number.
fn run_pair(
    machine: Machine,
    upper: DispatchFn,
    lower: DispatchFn,
    attached: bool,
) -> (Run<Option<IoStatusBlock>>, u64) {
    let number = Arc::new(AtomicU32::new(u32::MAX));
    let n = number.clone();
    let run = machine.run(move || {
        let driver = toy_driver();
        let lower = toy_device(&driver, lower, None);
        let upper = toy_device(&driver, upper, Some(&lower));
        if attached {
            io_attach_device_to_device_stack(&upper, &lower).expect("attach");
        }
        send(&upper, &n)
    });
    (run, number.load(Ordering::SeqCst).into())
}

/// Asserts that `run` ended in stop `code` with parameter 1 `p1`, and that
/// the stop is at the end of its trace; returns the bug check.
#[track_caller]
fn assert_stop<T: Debug>(run: &Run<T>, code: u32, p1: u64) -> BugCheck {
    let check = bug_check_of(run);
    assert_eq!((check.code, check.params[0]), (code, p1), "{check}\n{}", run.trace.tail(20));
    let tail = run.trace.tail(3);
    assert!(tail.contains(&format!("BUG CHECK {code:#X} ({p1:#X})")), "trace tail:\n{tail}");
    check
}

/// A finished IOCTL_TOY as its sender sees it.
fn done(information: usize) -> Option<IoStatusBlock> {
    Some(IoStatusBlock { status: STATUS_SUCCESS, information })
}

// ---------------------------------------------------------------------------
// Small drivers, correct and broken
// ---------------------------------------------------------------------------

fn complete_with(mut irp: Irp, status: NtStatus, information: usize) {
    *irp.io_status_mut() = IoStatusBlock { status, information };
    io_complete_request(irp, IO_NO_INCREMENT);
}

fn complete_success(_device: &DeviceObject, irp: Irp) -> NtStatus {
    complete_with(irp, STATUS_SUCCESS, 0);
    STATUS_SUCCESS
}

/// Writes "ghijkl" into the system buffer and completes with
/// STATUS_SUCCESS and 3 bytes (Wine's `return_status` driver).
fn reply(mut irp: Irp) {
    if let Some(system) = irp.system_buffer_mut() {
        system[..6].copy_from_slice(b"ghijkl");
    }
    complete_with(irp, STATUS_SUCCESS, 3);
}

/// A system thread completes the IRP with STATUS_SUCCESS. It may run before
/// or after the dispatch routine returns.
fn complete_from_thread(irp: Irp) {
    ps_create_system_thread(move || complete_with(irp, STATUS_SUCCESS, 0))
        .expect("PsCreateSystemThread");
}

/// Broken: returns STATUS_PENDING without IoMarkIrpPending.
fn pend_unmarked(_device: &DeviceObject, irp: Irp) -> NtStatus {
    complete_from_thread(irp);
    STATUS_PENDING
}

fn pend_marked(_device: &DeviceObject, mut irp: Irp) -> NtStatus {
    io_mark_irp_pending(&mut irp);
    complete_from_thread(irp);
    STATUS_PENDING
}

/// Broken: marks pending, completes at once, returns STATUS_SUCCESS.
fn mark_complete_return_success(_device: &DeviceObject, mut irp: Irp) -> NtStatus {
    io_mark_irp_pending(&mut irp);
    reply(irp);
    STATUS_SUCCESS
}

fn mark_complete_return_pending(_device: &DeviceObject, mut irp: Irp) -> NtStatus {
    io_mark_irp_pending(&mut irp);
    reply(irp);
    STATUS_PENDING
}

/// Broken: completes with STATUS_SUCCESS, returns STATUS_UNSUCCESSFUL.
fn complete_success_return_unsuccessful(_device: &DeviceObject, irp: Irp) -> NtStatus {
    reply(irp);
    STATUS_UNSUCCESSFUL
}

fn complete_success_return_success(_device: &DeviceObject, irp: Irp) -> NtStatus {
    reply(irp);
    STATUS_SUCCESS
}

/// Broken: neither completes nor passes down nor keeps the IRP.
fn drop_irp(_device: &DeviceObject, irp: Irp) -> NtStatus {
    drop(irp);
    STATUS_SUCCESS
}

/// Copies its location down and calls the next device.
fn forward(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let next = device.extension::<Toy>().next.clone().expect("a next device");
    io_copy_current_irp_stack_location_to_next(&mut irp);
    io_call_driver(&next, irp)
}

/// Passes the IRP down and returns STATUS_SUCCESS whatever the lower
/// driver returned: right for an IRP the lower driver completed with it.
fn forward_return_success(device: &DeviceObject, irp: Irp) -> NtStatus {
    let _ = forward(device, irp);
    STATUS_SUCCESS
}

fn forward_with_routine(
    device: &DeviceObject,
    mut irp: Irp,
    routine: CompletionRoutine,
) -> NtStatus {
    let next = device.extension::<Toy>().next.clone().expect("a next device");
    io_copy_current_irp_stack_location_to_next(&mut irp);
    io_set_completion_routine(&mut irp, routine, None, true, true, true);
    io_call_driver(&next, irp)
}

/// Broken: its completion routine lets completion go on without marking
/// the IRP pending when PendingReturned is set.
fn forward_continue_unmarked(device: &DeviceObject, irp: Irp) -> NtStatus {
    fn routine(_: Option<&DeviceObject>, irp: Irp, _: &CompletionContext) -> Completion {
        Completion::Continue(irp)
    }
    forward_with_routine(device, irp, routine)
}

fn forward_continue_marked(device: &DeviceObject, irp: Irp) -> NtStatus {
    fn routine(_: Option<&DeviceObject>, mut irp: Irp, _: &CompletionContext) -> Completion {
        if irp.pending_returned() {
            io_mark_irp_pending(&mut irp);
        }
        Completion::Continue(irp)
    }
    forward_with_routine(device, irp, routine)
}

/// Broken: completes at DIRQL.
fn complete_at_dirql(_device: &DeviceObject, irp: Irp) -> NtStatus {
    let old = ke_raise_irql(Irql(5));
    complete_with(irp, STATUS_SUCCESS, 0);
    ke_lower_irql(old);
    STATUS_SUCCESS
}

fn complete_at_dispatch_level(_device: &DeviceObject, irp: Irp) -> NtStatus {
    let old = ke_raise_irql(DISPATCH_LEVEL);
    complete_with(irp, STATUS_SUCCESS, 0);
    ke_lower_irql(old);
    STATUS_SUCCESS
}

/// Broken: completes with IoStatus.Status = STATUS_PENDING.
fn complete_with_pending(_device: &DeviceObject, irp: Irp) -> NtStatus {
    complete_with(irp, STATUS_PENDING, 0);
    STATUS_PENDING
}

/// Broken: raises to DISPATCH_LEVEL and returns there.
fn return_raised(_device: &DeviceObject, irp: Irp) -> NtStatus {
    ke_raise_irql(DISPATCH_LEVEL);
    complete_with(irp, STATUS_SUCCESS, 0);
    STATUS_SUCCESS
}

fn return_lowered(_device: &DeviceObject, irp: Irp) -> NtStatus {
    let old = ke_raise_irql(DISPATCH_LEVEL);
    complete_with(irp, STATUS_SUCCESS, 0);
    ke_lower_irql(old);
    STATUS_SUCCESS
}

/// Broken: reads its device extension as a type it is not.
fn wrong_extension_type(device: &DeviceObject, irp: Irp) -> NtStatus {
    let _ = device.extension::<u64>();
    complete_success(device, irp)
}

fn right_extension_type(device: &DeviceObject, irp: Irp) -> NtStatus {
    let _ = device.extension::<Toy>();
    complete_success(device, irp)
}

// ---------------------------------------------------------------------------
// Pending and status rules (spec Part 4, V8, V10, V11)
// ---------------------------------------------------------------------------

/// STATUS_PENDING returned without IoMarkIrpPending is 0xC9/0x23D (IRP,
/// device), whether the thread completes the IRP before or after the
/// dispatch routine returns (book l.4302); marked, it runs clean. Over 50
/// seeds on 2 processors.
#[test]
fn pending_returned_without_mark_irp_pending_is_0xc9_0x23d() {
    for seed in 0..50 {
        let (run, irp) = run_toy(Machine::sim().processors(2).seed(seed), pend_unmarked);
        let check = assert_stop(&run, 0xC9, 0x23D);
        assert_eq!(check.params[1], irp, "seed {seed}");
        let (run, _) = run_toy(Machine::sim().processors(2).seed(seed), pend_marked);
        assert_eq!(run.value(), done(0), "seed {seed}");
    }
}

/// IoMarkIrpPending then returning another status than STATUS_PENDING is
/// 0xC9/0x23E (IRP, device, returned status); marking, completing and
/// returning STATUS_PENDING is legal.
#[test]
fn marked_pending_but_returned_success_is_0xc9_0x23e() {
    let (run, irp) = run_toy(Machine::sim(), mark_complete_return_success);
    let check = assert_stop(&run, 0xC9, 0x23E);
    assert_eq!((check.params[1], check.params[3]), (irp, u64::from(STATUS_SUCCESS.0)));
    let (run, _) = run_toy(Machine::sim(), mark_complete_return_pending);
    assert_eq!(run.value(), done(3));
}

/// A dispatch routine that returns another status than the one it
/// completed the IRP with is 0xC9/0x224 (IRP, IoStatus.Status, returned
/// status); returning the completed status is correct.
#[test]
fn returned_status_differing_from_the_completed_one_is_0xc9_0x224() {
    let (run, irp) = run_toy(Machine::sim(), complete_success_return_unsuccessful);
    let check = assert_stop(&run, 0xC9, 0x224);
    assert_eq!(
        check.params,
        [0x224, irp, u64::from(STATUS_SUCCESS.0), u64::from(STATUS_UNSUCCESSFUL.0)]
    );
    let (run, _) = run_toy(Machine::sim(), complete_success_return_success);
    assert_eq!(run.value(), done(3));
}

/// A dispatch routine that drops its IRP (neither completes, passes down,
/// keeps nor frees it) is 0xC9/0x226 with the IRP (book l.3864).
#[test]
fn a_dropped_irp_is_0xc9_0x226() {
    let (run, irp) = run_toy(Machine::sim(), drop_irp);
    let check = assert_stop(&run, 0xC9, 0x226);
    assert_eq!(check.params[1], irp);
    let (run, _) = run_toy(Machine::sim(), complete_success);
    assert_eq!(run.value(), done(0));
}

/// Passes its own location down (IoSkipCurrentIrpStackLocation): the
/// lower driver's call shares it.
fn skip(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let next = device.extension::<Toy>().next.clone().expect("a next device");
    io_skip_current_irp_stack_location(&mut irp);
    io_call_driver(&next, irp)
}

/// The stop of a threaded run (no trace to look at): code and parameters.
#[track_caller]
fn threaded_stop<T: Debug>(run: &Run<T>) -> (u32, [u64; 4]) {
    let check = bug_check_of(run);
    (check.code, check.params)
}

/// On real threads the pending and status rules stop with the same
/// parameters as in a simulation: alone, after a copy, after a skip (two
/// drivers' calls share the location), and for an IRP completed by another
/// thread; the correct drivers run clean.
#[test]
fn the_pending_and_status_rules_are_the_same_on_real_threads() {
    let machine = || Machine::threaded().processors(2);
    let success = u64::from(STATUS_SUCCESS.0);
    let (run, irp) = run_toy(machine(), mark_complete_return_success);
    let (code, params) = threaded_stop(&run);
    assert_eq!((code, params[0], params[1], params[3]), (0xC9, 0x23E, irp, success));
    let (run, irp) = run_toy(machine(), complete_success_return_unsuccessful);
    let unsuccessful = u64::from(STATUS_UNSUCCESSFUL.0);
    assert_eq!(threaded_stop(&run), (0xC9, [0x224, irp, success, unsuccessful]));
    let (run, irp) = run_toy(machine(), pend_unmarked);
    let (code, params) = threaded_stop(&run);
    assert_eq!((code, params[0], params[1]), (0xC9, 0x23D, irp));
    for upper in [forward as DispatchFn, skip] {
        let (run, irp) = run_pair(machine(), upper, complete_success_return_unsuccessful, true);
        assert_eq!(threaded_stop(&run), (0xC9, [0x224, irp, success, unsuccessful]));
        let (run, irp) = run_pair(machine(), upper, mark_complete_return_success, true);
        let (code, params) = threaded_stop(&run);
        assert_eq!((code, params[0], params[1]), (0xC9, 0x23E, irp));
        let (run, _) = run_pair(machine(), upper, mark_complete_return_pending, true);
        assert_eq!(run.value(), done(3));
        let (run, _) = run_pair(machine(), upper, complete_success_return_success, true);
        assert_eq!(run.value(), done(3));
        let (run, _) = run_pair(machine(), upper, pend_marked, true);
        assert_eq!(run.value(), done(0));
    }
    let (run, _) = run_pair(machine(), forward_continue_marked, mark_complete_return_pending, true);
    assert_eq!(run.value(), done(3));
    // Only the lower driver's call returns the wrong status: the nested
    // call's own check finds it (on real threads that call checks through
    // the record reference the upper driver's call lends it).
    for machine in [machine(), Machine::sim()] {
        let lower = complete_success_return_unsuccessful;
        let (run, irp) = run_pair(machine, forward_return_success, lower, true);
        assert_eq!(threaded_stop(&run), (0xC9, [0x224, irp, success, unsuccessful]));
    }
    for correct in [mark_complete_return_pending as DispatchFn, complete_success_return_success] {
        assert_eq!(run_toy(machine(), correct).0.value(), done(3));
    }
    assert_eq!(run_toy(machine(), pend_marked).0.value(), done(0));
}

/// A completion routine that lets completion go on while PendingReturned is
/// set, without IoMarkIrpPending, is 0xC9/0x228 (IRP); marking it is
/// correct (book l.5545–5549). The lower driver pends and a thread
/// completes; over 50 seeds on 2 processors.
#[test]
fn a_completion_routine_that_does_not_propagate_pending_is_0xc9_0x228() {
    for seed in 0..50 {
        let machine = Machine::sim().processors(2).seed(seed);
        let (run, irp) = run_pair(machine.clone(), forward_continue_unmarked, pend_marked, true);
        let check = assert_stop(&run, 0xC9, 0x228);
        assert_eq!(check.params[1], irp, "seed {seed}");
        let (run, _) = run_pair(machine, forward_continue_marked, pend_marked, true);
        assert_eq!(run.value(), done(0), "seed {seed}");
    }
}

/// IoCompleteRequest with IoStatus.Status = STATUS_PENDING is 0xC9/0x06
/// (status, IRP); completing with a final status is correct.
#[test]
fn completing_with_status_pending_is_0xc9_0x06() {
    let (run, irp) = run_toy(Machine::sim(), complete_with_pending);
    let check = assert_stop(&run, 0xC9, 0x06);
    assert_eq!((check.params[1], check.params[2]), (u64::from(STATUS_PENDING.0), irp));
    let (run, _) = run_toy(Machine::sim(), complete_success);
    assert_eq!(run.value(), done(0));
}

// ---------------------------------------------------------------------------
// IRQL rules
// ---------------------------------------------------------------------------

/// IoCompleteRequest above DISPATCH_LEVEL is 0xC9/0x0E (IRQL, IRP); at
/// DISPATCH_LEVEL it is legal (book l.4300).
#[test]
fn completing_at_dirql_is_0xc9_0x0e() {
    let (run, irp) = run_toy(Machine::sim(), complete_at_dirql);
    let check = assert_stop(&run, 0xC9, 0x0E);
    assert_eq!((check.params[1], check.params[2]), (5, irp));
    let (run, _) = run_toy(Machine::sim(), complete_at_dispatch_level);
    assert_eq!(run.value(), done(0));
}

/// A dispatch routine that returns at another IRQL than it was called at is
/// 0xC9/0x05 (device, IRQL before, IRQL after); lowering back is correct.
#[test]
fn a_dispatch_routine_returning_at_a_raised_irql_is_0xc9_0x05() {
    let (run, _) = run_toy(Machine::sim(), return_raised);
    let check = assert_stop(&run, 0xC9, 0x05);
    assert_eq!((check.params[2], check.params[3]), (0, 2));
    let (run, _) = run_toy(Machine::sim(), return_lowered);
    assert_eq!(run.value(), done(0));
}

// ---------------------------------------------------------------------------
// Stack locations and device objects
// ---------------------------------------------------------------------------

/// A driver that forwards (IoCopyCurrentIrpStackLocationToNext,
/// IoCallDriver) to a device it did not attach to has no stack location
/// for it: bug check 0x35 NO_MORE_IRP_STACK_LOCATIONS, parameter 1 the IRP.
/// Attached, the IRP is built one location deeper and all is well.
#[test]
fn forwarding_to_a_device_not_attached_below_is_0x35() {
    let (run, irp) = run_pair(Machine::sim(), forward, complete_success, false);
    assert_stop(&run, 0x35, irp);
    let (run, _) = run_pair(Machine::sim(), forward, complete_success, true);
    assert_eq!(run.value(), done(0));
}

/// IoCallDriver to a deleted device (still referenced) is 0xC9/0x04
/// (device, IRP); calling it before deleting it is correct.
#[test]
fn calling_a_deleted_device_is_0xc9_0x04() {
    let scenario = |delete_first: bool| {
        let number = Arc::new(AtomicU32::new(u32::MAX));
        let n = number.clone();
        let run = Machine::sim().run(move || {
            let driver = toy_driver();
            let device = toy_device(&driver, complete_success, None);
            let event = Event::new(EventType::NotificationEvent, false);
            let (irp, request) =
                io_build_device_io_control_request(IOCTL_TOY, &device, b"", 8, false, &event)
                    .expect("IoBuildDeviceIoControlRequest");
            n.store(irp.number(), Ordering::SeqCst);
            let kept = ob_reference_object(&device);
            if delete_first {
                io_delete_device(&device);
            }
            let status = io_call_driver(&kept, irp);
            io_delete_device(&device);
            (status, request.io_status())
        });
        (run, u64::from(number.load(Ordering::SeqCst)))
    };
    let (run, irp) = scenario(true);
    let check = assert_stop(&run, 0xC9, 0x04);
    assert_eq!(check.params[2], irp);
    let (run, _) = scenario(false);
    assert_eq!(run.value(), (STATUS_SUCCESS, done(0)));
}

/// IoDeleteDevice on a device still attached to a lower one is 0xC9/0x201;
/// detaching first (IoDetachDevice on the lower device) is correct (book
/// l.3095).
#[test]
fn deleting_a_device_still_attached_is_0xc9_0x201() {
    let scenario = |detach_first: bool| {
        Machine::sim().run(move || {
            let driver = toy_driver();
            let lower = toy_device(&driver, complete_success, None);
            let upper = toy_device(&driver, complete_success, None);
            io_attach_device_to_device_stack(&upper, &lower).expect("attach");
            if detach_first {
                io_detach_device(&lower);
            }
            io_delete_device(&upper);
            io_delete_device(&lower);
            driver.devices().len()
        })
    };
    assert_stop(&scenario(false), 0xC9, 0x201);
    assert_eq!(scenario(true).value(), 0);
}

/// IoDetachDevice on a device with nothing attached is 0xC9/0x202;
/// detaching what was attached is correct.
#[test]
fn detaching_from_a_device_with_nothing_attached_is_0xc9_0x202() {
    let scenario = |attach_first: bool| {
        Machine::sim().run(move || {
            let driver = toy_driver();
            let lower = toy_device(&driver, complete_success, None);
            let upper = toy_device(&driver, complete_success, None);
            if attach_first {
                io_attach_device_to_device_stack(&upper, &lower).expect("attach");
            }
            io_detach_device(&lower);
            upper.lower_device()
        })
    };
    assert_stop(&scenario(false), 0xC9, 0x202);
    assert_eq!(scenario(true).value(), None);
}

/// IoDeleteDevice on a device already deleted is 0xC9/0x240; deleting once
/// is correct.
#[test]
fn deleting_a_device_twice_is_0xc9_0x240() {
    let scenario = |times: usize| {
        Machine::sim().run(move || {
            let driver = toy_driver();
            let device = toy_device(&driver, complete_success, None);
            for _ in 0..times {
                io_delete_device(&device);
            }
            device.is_deleted()
        })
    };
    assert_stop(&scenario(2), 0xC9, 0x240);
    assert!(scenario(1).value());
}

/// Reading a device extension as a type it is not is the Rust form of a bad
/// pointer cast: bug check 0x1E KMODE_EXCEPTION_NOT_HANDLED with
/// parameter 1 STATUS_ACCESS_VIOLATION (0xC0000005).
#[test]
fn reading_the_extension_as_the_wrong_type_is_0x1e() {
    let (run, _) = run_toy(Machine::sim(), wrong_extension_type);
    assert_stop(&run, 0x1E, 0xC000_0005);
    let (run, _) = run_toy(Machine::sim(), right_extension_type);
    assert_eq!(run.value(), done(0));
}

/// Broken: writes "ghijkl" and claims one byte more than the caller's
/// output buffer holds.
fn claim_beyond_output(_device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let output = match irp.current_stack_location().parameters {
        Parameters::DeviceIoControl { output_buffer_length, .. } => output_buffer_length,
        _ => 0,
    };
    if let Some(system) = irp.system_buffer_mut() {
        let n = system.len().min(6);
        system[..n].copy_from_slice(&b"ghijkl"[..n]);
    }
    complete_with(irp, STATUS_SUCCESS, output as usize + 1);
    STATUS_SUCCESS
}

/// A buffered IOCTL completed with IoStatus.Information beyond its output
/// buffer is 0xC9/0x312 (IRP, Information, output length: the copy back
/// would overrun the caller's buffer, spec V32), for a driver's
/// IoBuildDeviceIoControlRequest (8-byte output) and a Win32 caller's
/// DeviceIoControl (6 bytes) alike; claiming what was written is correct.
#[test]
fn information_beyond_the_output_buffer_is_0xc9_0x312() {
    let (run, irp) = run_toy(Machine::sim(), claim_beyond_output);
    let check = assert_stop(&run, 0xC9, 0x312);
    assert_eq!(check.params, [0x312, irp, 9, 8]);
    let run = win32_run(Machine::sim(), claim_beyond_output);
    let check = assert_stop(&run, 0xC9, 0x312);
    assert_eq!(check.params[2..], [7, 6]);
    let (run, _) = run_toy(Machine::sim(), complete_success_return_success);
    assert_eq!(run.value(), done(3));
}

// ---------------------------------------------------------------------------
// Without I/O verification
// ---------------------------------------------------------------------------

/// What a Win32 caller on a synchronous handle sees of an IOCTL:
/// NtDeviceIoControlFile's status, status block and output, then
/// DeviceIoControl's result, last error (or 0) and byte count (preset to
/// 0xDEADF00D).
type Win32View = ((NtStatus, Option<IoStatusBlock>, [u8; 6]), (bool, u32, u32));

/// The [`Win32View`] of `ioctl`'s IOCTL on a machine without I/O
/// verification.
fn win32_view(ioctl: DispatchFn) -> Win32View {
    win32_run(Machine::sim().io_verification(false), ioctl).value()
}

/// Runs [`win32_view`]'s calls on `machine`.
fn win32_run(machine: Machine, ioctl: DispatchFn) -> Run<Win32View> {
    machine.run(move || {
        let driver = toy_driver();
        let toy = Toy { ioctl, next: None };
        let device =
            io_create_device(&driver, toy, Some("\\Device\\Toy0"), FILE_DEVICE_UNKNOWN, 0, false)
                .expect("IoCreateDevice");
        device.clear_flags(DO_DEVICE_INITIALIZING);
        assert_eq!(io_create_symbolic_link("\\??\\Toy0", "\\Device\\Toy0"), STATUS_SUCCESS);
        let handle = create_file("\\\\.\\Toy0", GENERIC_READ | GENERIC_WRITE, 0, OPEN_EXISTING, 0);
        assert_ne!(handle, INVALID_HANDLE_VALUE);

        let mut output = *b"abcdef";
        let (status, iosb) = nt_device_io_control_file(handle, IOCTL_TOY, b"", &mut output, 6);
        let nt = (status, iosb, output);

        let mut output = *b"abcdef";
        let mut count = 0xDEAD_F00D;
        let ok = device_io_control(handle, IOCTL_TOY, b"", 0, &mut output, 6, &mut count);
        let error = if ok { 0 } else { get_last_error() };
        assert!(close_handle(handle));
        (nt, (ok, error, count))
    })
}

/// Without I/O verification the 0x23E driver (pending marked, completed at
/// once, STATUS_SUCCESS returned) does not bug check: on a synchronous
/// handle the caller gets the returned status, the status block, and 3
/// bytes copied back (Wine's `test_return_status`, ret S, iosb S, pending).
#[test]
fn without_io_verification_the_0x23e_driver_works_as_on_windows() {
    let (nt, win32) = win32_view(mark_complete_return_success);
    assert_eq!(nt, (STATUS_SUCCESS, done(3), *b"ghidef"));
    assert_eq!(win32, (true, 0, 3));
}

/// Without I/O verification the 0x224 driver (completed with
/// STATUS_SUCCESS, STATUS_UNSUCCESSFUL returned) does not bug check: the
/// synchronous caller gets the returned status (DeviceIoControl fails with
/// ERROR_GEN_FAILURE, 31, and leaves the byte count alone), while the status
/// block and the 3 buffered bytes follow IoStatus (Wine's
/// `test_return_status`, ret E, iosb S).
#[test]
fn without_io_verification_the_0x224_driver_works_as_on_windows() {
    let (nt, win32) = win32_view(complete_success_return_unsuccessful);
    assert_eq!(nt, (STATUS_UNSUCCESSFUL, done(3), *b"ghidef"));
    assert_eq!(win32, (false, 31, 0xDEAD_F00D));
}

/// Without I/O verification the 0x312 driver (7 bytes claimed for a 6-byte
/// output buffer) does not bug check: the caller's status block and byte
/// count say 7, as Windows reports, but the copy back stops at the 6 bytes
/// the buffer holds (Windows would write past it).
#[test]
fn without_io_verification_information_beyond_the_output_is_not_copied_beyond_it() {
    let (nt, win32) = win32_view(claim_beyond_output);
    assert_eq!(nt, (STATUS_SUCCESS, done(7), *b"ghijkl"));
    assert_eq!(win32, (true, 0, 7));
}
