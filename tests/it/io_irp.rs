//! IRP mechanics: stack locations, IoCallDriver, the completion walk,
//! pending propagation, STATUS_MORE_PROCESSING_REQUIRED, the default
//! dispatch routine, buffer transfer methods, driver-built IRPs, device and
//! file objects (book ch. 7 and 9; spec §1.5, §1.7–1.8).
//!
//! Stacks are built the way AddDevice builds them: one driver per layer
//! (loaded under the layer's name), one device per driver, each attached on
//! top of the previous one. The layer's IOCTL routine is stored in its
//! device extension ([`Layer`]), so a single DriverEntry serves every test.

use std::any::Any;
use std::sync::Arc;

use crate::support::Log;
use wdmsim::Machine;
use wdmsim::ddk::*;
use wdmsim::io::{DispatchFn, load_driver};
use wdmsim::sync::Mutex;
use wdmsim::win32::{
    ERROR_ACCESS_DENIED, ERROR_FILE_NOT_FOUND, ERROR_INVALID_FUNCTION, GENERIC_READ, GENERIC_WRITE,
    Handle, INVALID_HANDLE_VALUE, OPEN_EXISTING, close_handle, create_file, device_io_control,
    get_last_error, nt_device_io_control_file, read_file, write_file,
};

// ---------------------------------------------------------------------------
// Helpers shared by the tests
// ---------------------------------------------------------------------------

/// A device of a test stack: its name, the log it shares with the scenario,
/// and its driver's IRP_MJ_(INTERNAL_)DEVICE_CONTROL routine.
struct Layer {
    name: &'static str,
    log: Log,
    ioctl: DispatchFn,
}

fn layer(device: &DeviceObject) -> &Layer {
    device.extension::<Layer>()
}

/// DriverEntry of every layer driver: IOCTLs go to the device's
/// [`Layer::ioctl`]; create, cleanup and close are passed down or, at the
/// bottom, succeed.
fn layer_entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
    for major in [IRP_MJ_CREATE, IRP_MJ_CLEANUP, IRP_MJ_CLOSE] {
        driver.major_function[major as usize] = Some(pass_down_or_succeed);
    }
    driver.major_function[IRP_MJ_DEVICE_CONTROL as usize] = Some(layer_ioctl);
    driver.major_function[IRP_MJ_INTERNAL_DEVICE_CONTROL as usize] = Some(layer_ioctl);
    STATUS_SUCCESS
}

fn layer_ioctl(device: &DeviceObject, irp: Irp) -> NtStatus {
    (layer(device).ioctl)(device, irp)
}

/// Skips its location and passes the IRP down; the bottom completes it.
fn pass_down_or_succeed(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    match device.lower_device() {
        Some(lower) => {
            io_skip_current_irp_stack_location(&mut irp);
            io_call_driver(&lower, irp)
        }
        None => complete(irp, STATUS_SUCCESS, 0),
    }
}

/// Sets IoStatus and completes; returns the status (book l.2539–2548).
fn complete(mut irp: Irp, status: NtStatus, information: usize) -> NtStatus {
    *irp.io_status_mut() = IoStatusBlock { status, information };
    io_complete_request(irp, IO_NO_INCREMENT);
    status
}

/// Builds a stack from `layers`, listed top first: a driver per layer named
/// after it, with one device attached on top of the one below. The bottom
/// device is named `\Device\<name>`, with the link `\??\<name>`. Returns the
/// devices, top first.
fn stack(log: &Log, layers: &[(&'static str, DispatchFn)]) -> Vec<DeviceObject> {
    let mut devices: Vec<DeviceObject> = Vec::new();
    for &(name, ioctl) in layers.iter().rev() {
        let driver = load_driver(name, layer_entry).expect("DriverEntry");
        let extension = Layer { name, log: log.clone(), ioctl };
        let device = match devices.last() {
            None => {
                let device = io_create_device(
                    &driver,
                    extension,
                    Some(&format!("\\Device\\{name}")),
                    FILE_DEVICE_UNKNOWN,
                    0,
                    false,
                )
                .expect("IoCreateDevice");
                let link =
                    io_create_symbolic_link(&format!("\\??\\{name}"), &format!("\\Device\\{name}"));
                assert_eq!(link, STATUS_SUCCESS);
                device
            }
            Some(lower) => {
                let device =
                    io_create_device(&driver, extension, None, FILE_DEVICE_UNKNOWN, 0, false)
                        .expect("IoCreateDevice");
                io_attach_device_to_device_stack(&device, lower).expect("attach");
                device
            }
        };
        device.clear_flags(DO_DEVICE_INITIALIZING);
        devices.push(device);
    }
    devices.reverse();
    devices
}

/// On a simulated machine: a stack of `layers` (top first) gets one
/// driver-allocated IRP with `code` (see [`driver_irp`]); returns what
/// IoCallDriver returned and the log.
fn send_down(layers: &'static [(&'static str, DispatchFn)], code: u32) -> (NtStatus, Vec<String>) {
    Machine::sim()
        .run(move || {
            let log = Log::default();
            let devices = stack(&log, layers);
            let status = io_call_driver(&devices[0], driver_irp(&devices[0], code, &log));
            (status, log.lines())
        })
        .value()
}

/// The context a completion routine was given, as the type it was set with.
fn context_of<T: Any>(context: &CompletionContext) -> &T {
    context.as_deref().and_then(|c| c.downcast_ref::<T>()).expect("completion context type")
}

/// An IRP the scenario allocates (IoAllocateIrp) for `top`'s stack: an
/// internal IOCTL with `code`, whose own completion routine
/// ([`free_own_irp`]) logs the outcome to `log` and frees it.
fn driver_irp(top: &DeviceObject, code: u32, log: &Log) -> Irp {
    let mut irp = io_allocate_irp(top.stack_size(), false).expect("IoAllocateIrp");
    let next = io_get_next_irp_stack_location(&mut irp);
    next.major_function = IRP_MJ_INTERNAL_DEVICE_CONTROL;
    next.parameters = Parameters::DeviceIoControl {
        output_buffer_length: 0,
        input_buffer_length: 0,
        io_control_code: code,
        type3_input_buffer: None,
    };
    io_set_completion_routine(
        &mut irp,
        free_own_irp,
        Some(Arc::new(log.clone())),
        true,
        true,
        true,
    );
    irp
}

/// The allocator's completion routine: logs and frees the IRP it built
/// (IoFreeIrp, then STATUS_MORE_PROCESSING_REQUIRED).
fn free_own_irp(
    device: Option<&DeviceObject>,
    irp: Irp,
    context: &CompletionContext,
) -> Completion {
    context_of::<Log>(context).push(format!(
        "allocator's routine: device {:?}, location {}, {:?}",
        device.map(|d| layer(d).name),
        irp.current_location(),
        irp.io_status().status
    ));
    io_free_irp(irp);
    Completion::MoreProcessingRequired
}

/// Copies its location to the next and passes the IRP down; the bottom
/// completes it with STATUS_SUCCESS. No completion routine.
fn forward_or_complete(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    match device.lower_device() {
        Some(lower) => {
            io_copy_current_irp_stack_location_to_next(&mut irp);
            io_call_driver(&lower, irp)
        }
        None => complete(irp, STATUS_SUCCESS, 0),
    }
}

/// Logs where it is in the stack, then [`forward_or_complete`].
fn report_location(device: &DeviceObject, irp: Irp) -> NtStatus {
    let me = layer(device);
    let own = irp.current_stack_location().device_object() == Some(device);
    me.log.push(format!(
        "{} (driver {}) at location {} of {}, own device: {own}",
        me.name,
        device.driver_object().name(),
        irp.current_location(),
        irp.stack_count()
    ));
    forward_or_complete(device, irp)
}

/// Copies its location down with [`log_completion`] set for the given
/// outcomes, and passes the IRP down; the bottom completes it.
fn forward_with_routine(
    device: &DeviceObject,
    mut irp: Irp,
    on_success: bool,
    on_error: bool,
) -> NtStatus {
    let Some(lower) = device.lower_device() else {
        return complete(irp, STATUS_SUCCESS, 0);
    };
    let me = layer(device);
    io_copy_current_irp_stack_location_to_next(&mut irp);
    let context: CompletionContext = Some(Arc::new((me.name, me.log.clone())));
    io_set_completion_routine(&mut irp, log_completion, context, on_success, on_error, false);
    io_call_driver(&lower, irp)
}

fn forward_with_routine_always(device: &DeviceObject, irp: Irp) -> NtStatus {
    forward_with_routine(device, irp, true, true)
}

fn forward_with_routine_on_success(device: &DeviceObject, irp: Irp) -> NtStatus {
    forward_with_routine(device, irp, true, false)
}

fn forward_with_routine_on_error(device: &DeviceObject, irp: Irp) -> NtStatus {
    forward_with_routine(device, irp, false, true)
}

/// A completion routine that logs who set it, the device it was given, the
/// current location and the status, and lets completion go on.
fn log_completion(
    device: Option<&DeviceObject>,
    irp: Irp,
    context: &CompletionContext,
) -> Completion {
    let (setter, log) = context_of::<(&'static str, Log)>(context);
    log.push(format!(
        "{setter}'s routine: device {}, location {}, {:?}",
        device.map_or("none", |d| layer(d).name),
        irp.current_location(),
        irp.io_status().status
    ));
    Completion::Continue(irp)
}

/// The IOCTL code of the current location.
fn ioctl_code(irp: &Irp) -> u32 {
    match irp.current_stack_location().parameters {
        Parameters::DeviceIoControl { io_control_code, .. } => io_control_code,
        _ => panic!("not an IOCTL"),
    }
}

/// Completes with the IOCTL code as the status: the scenario picks it.
fn complete_with_code_as_status(_device: &DeviceObject, irp: Irp) -> NtStatus {
    let status = NtStatus(ioctl_code(&irp));
    complete(irp, status, 0)
}

/// Marks the IRP pending and hands it to a system thread that waits as
/// many microseconds as the caller's input says (a little-endian u32; none
/// means no wait, so the completion races the dispatch routines' returns),
/// then writes "late" into the system buffer and completes the IRP with
/// STATUS_SUCCESS and 4 bytes.
fn pend_and_complete_from_thread(_device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let delay_us = match (&irp.current_stack_location().parameters, irp.system_buffer()) {
        (Parameters::DeviceIoControl { input_buffer_length: 4.., .. }, Some(input)) => {
            u32::from_le_bytes([input[0], input[1], input[2], input[3]])
        }
        _ => 0,
    };
    io_mark_irp_pending(&mut irp);
    let worker = ps_create_system_thread(move || {
        if delay_us > 0 {
            ke_delay_execution_thread(Interval::relative_us(delay_us.into()));
        }
        if let Some(system) = irp.system_buffer_mut() {
            system[..4].copy_from_slice(b"late");
        }
        complete(irp, STATUS_SUCCESS, 4);
    });
    assert!(worker.is_ok(), "PsCreateSystemThread");
    STATUS_PENDING
}

/// The lines `log` got since it had `*seen` lines; moves `*seen` on.
fn new_lines(log: &Log, seen: &mut usize) -> Vec<String> {
    let lines = log.lines();
    let new = lines[*seen..].to_vec();
    *seen = lines.len();
    new
}

/// Opens a device by its Win32 name; panics if it does not open.
fn open(path: &str) -> Handle {
    let handle = create_file(path, GENERIC_READ | GENERIC_WRITE, 0, OPEN_EXISTING, 0);
    assert_ne!(handle, INVALID_HANDLE_VALUE, "CreateFile({path}) failed: {}", get_last_error());
    handle
}

const IOCTL_BUFFERED: u32 = ctl_code(FILE_DEVICE_UNKNOWN, 0x900, METHOD_BUFFERED, FILE_ANY_ACCESS);
const IOCTL_IN_DIRECT: u32 =
    ctl_code(FILE_DEVICE_UNKNOWN, 0x900, METHOD_IN_DIRECT, FILE_ANY_ACCESS);
const IOCTL_OUT_DIRECT: u32 =
    ctl_code(FILE_DEVICE_UNKNOWN, 0x900, METHOD_OUT_DIRECT, FILE_ANY_ACCESS);
const IOCTL_NEITHER: u32 = ctl_code(FILE_DEVICE_UNKNOWN, 0x900, METHOD_NEITHER, FILE_ANY_ACCESS);

// ---------------------------------------------------------------------------
// 1. Stack locations
// ---------------------------------------------------------------------------

/// An IRP for a 3-deep stack has 3 locations and its current location is 4
/// (one past the top) before IoCallDriver; each IoCallDriver moves one down,
/// so the top, middle and bottom drivers run at locations 3, 2, 1, and each
/// location records its own driver's device (spec §1.7).
#[test]
fn each_driver_of_a_three_deep_stack_gets_its_own_location_going_down() {
    let run = Machine::sim().run(|| {
        let log = Log::default();
        let devices = stack(
            &log,
            &[("Top", report_location), ("Middle", report_location), ("Bottom", report_location)],
        );
        let irp = driver_irp(&devices[0], 0, &log);
        let fresh = (irp.stack_count(), irp.current_location());
        let status = io_call_driver(&devices[0], irp);
        (fresh, status, log.lines())
    });
    let (fresh, status, lines) = run.value();
    assert_eq!(fresh, (3, 4));
    assert_eq!(status, STATUS_SUCCESS);
    assert_eq!(
        lines,
        [
            "Top (driver Top) at location 3 of 3, own device: true",
            "Middle (driver Middle) at location 2 of 3, own device: true",
            "Bottom (driver Bottom) at location 1 of 3, own device: true",
            "allocator's routine: device None, location 4, STATUS_SUCCESS",
        ]
    );
}

// ---------------------------------------------------------------------------
// 2. Completion order
// ---------------------------------------------------------------------------

/// In a 4-deep stack where drivers 1–3 each set a completion routine and
/// driver 4 completes, the routines run lower first: driver 3, then 2, then
/// 1 (book l.918). Each gets its own driver's device, and IoGetCurrent-
/// IrpStackLocation inside it is that driver's location (spec §1.8 step 2).
#[test]
fn completion_routines_run_lowest_first_with_their_own_device() {
    let (status, lines) = send_down(
        &[
            ("D1", forward_with_routine_always),
            ("D2", forward_with_routine_always),
            ("D3", forward_with_routine_always),
            ("D4", forward_with_routine_always),
        ],
        0,
    );
    assert_eq!(status, STATUS_SUCCESS);
    assert_eq!(
        lines,
        [
            "D3's routine: device D3, location 2, STATUS_SUCCESS",
            "D2's routine: device D2, location 3, STATUS_SUCCESS",
            "D1's routine: device D1, location 4, STATUS_SUCCESS",
            "allocator's routine: device None, location 5, STATUS_SUCCESS",
        ]
    );
}

/// A driver that passes the IRP down without a completion routine is not
/// called on the way up (book l.918); the others still are, in order.
#[test]
fn a_driver_without_a_completion_routine_is_not_called_on_the_way_up() {
    let (status, lines) = send_down(
        &[
            ("D1", forward_with_routine_always),
            ("D2", forward_or_complete),
            ("D3", forward_with_routine_always),
            ("D4", forward_or_complete),
        ],
        0,
    );
    assert_eq!(status, STATUS_SUCCESS);
    assert_eq!(
        lines,
        [
            "D3's routine: device D3, location 2, STATUS_SUCCESS",
            "D1's routine: device D1, location 4, STATUS_SUCCESS",
            "allocator's routine: device None, location 5, STATUS_SUCCESS",
        ]
    );
}

// ---------------------------------------------------------------------------
// 3. IoSkipCurrentIrpStackLocation
// ---------------------------------------------------------------------------

/// Logs its location number, whether it holds its own device, and its
/// parameters.
fn log_location_and_parameters(device: &DeviceObject, irp: &Irp) {
    let me = layer(device);
    let location = irp.current_stack_location();
    me.log.push(format!(
        "{} at {}, own device: {}, {:?}",
        me.name,
        irp.current_location(),
        location.device_object() == Some(device),
        location.parameters
    ));
}

fn skip_down(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    log_location_and_parameters(device, &irp);
    let lower = device.lower_device().expect("a lower device");
    io_skip_current_irp_stack_location(&mut irp);
    io_call_driver(&lower, irp)
}

fn log_and_complete(device: &DeviceObject, irp: Irp) -> NtStatus {
    log_location_and_parameters(device, &irp);
    complete(irp, STATUS_SUCCESS, 0)
}

/// After IoSkipCurrentIrpStackLocation the lower driver sees the very
/// location the upper one saw: the same number and the same parameters
/// (book l.5308).
#[test]
fn after_a_skip_the_lower_driver_sees_the_upper_drivers_location() {
    let (status, lines) = send_down(&[("Upper", skip_down), ("Lower", log_and_complete)], 0x1234);
    assert_eq!(status, STATUS_SUCCESS);
    let parameters = format!(
        "{:?}",
        Parameters::DeviceIoControl {
            output_buffer_length: 0,
            input_buffer_length: 0,
            io_control_code: 0x1234,
            type3_input_buffer: None,
        }
    );
    assert_eq!(
        lines,
        [
            format!("Upper at 2, own device: true, {parameters}"),
            format!("Lower at 2, own device: true, {parameters}"),
            "allocator's routine: device None, location 3, STATUS_SUCCESS".to_string(),
        ]
    );
}

// ---------------------------------------------------------------------------
// 4. Invoke flags
// ---------------------------------------------------------------------------

/// IoSetCompletionRoutine's flags choose the outcomes a routine sees: an
/// invoke-on-error-only routine (Middle) is skipped on success and called
/// on an error or a warning (!NT_SUCCESS); an invoke-on-success-only
/// routine (Upper) the other way round (spec §1.8 step 3).
#[test]
fn a_routine_runs_only_for_the_outcomes_its_invoke_flags_name() {
    let run = Machine::sim().run(|| {
        let log = Log::default();
        let devices = stack(
            &log,
            &[
                ("Upper", forward_with_routine_on_success),
                ("Middle", forward_with_routine_on_error),
                ("Bottom", complete_with_code_as_status),
            ],
        );
        let mut returned = Vec::new();
        for status in [STATUS_SUCCESS, STATUS_BUFFER_OVERFLOW, STATUS_DEVICE_NOT_CONNECTED] {
            let irp = driver_irp(&devices[0], status.0, &log);
            returned.push(io_call_driver(&devices[0], irp));
        }
        (returned, log.lines())
    });
    let (returned, lines) = run.value();
    assert_eq!(returned, [STATUS_SUCCESS, STATUS_BUFFER_OVERFLOW, STATUS_DEVICE_NOT_CONNECTED]);
    assert_eq!(
        lines,
        [
            "Upper's routine: device Upper, location 3, STATUS_SUCCESS",
            "allocator's routine: device None, location 4, STATUS_SUCCESS",
            "Middle's routine: device Middle, location 2, STATUS_BUFFER_OVERFLOW",
            "allocator's routine: device None, location 4, STATUS_BUFFER_OVERFLOW",
            "Middle's routine: device Middle, location 2, STATUS_DEVICE_NOT_CONNECTED",
            "allocator's routine: device None, location 4, STATUS_DEVICE_NOT_CONNECTED",
        ]
    );
}

// ---------------------------------------------------------------------------
// 5. Pending propagation
// ---------------------------------------------------------------------------

/// Passes the IRP down without a completion routine and returns what the
/// lower driver returned, logging it.
fn forward_and_return_lower_status(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let me = layer(device);
    let lower = device.lower_device().expect("a lower device");
    io_copy_current_irp_stack_location_to_next(&mut irp);
    let status = io_call_driver(&lower, irp);
    me.log.push(format!("{} returns {status:?}", me.name));
    status
}

/// Passes the IRP down with [`propagate_pending`] as completion routine.
fn forward_propagating_pending(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let me = layer(device);
    let lower = device.lower_device().expect("a lower device");
    io_copy_current_irp_stack_location_to_next(&mut irp);
    let context: CompletionContext = Some(Arc::new((me.name, me.log.clone())));
    io_set_completion_routine(&mut irp, propagate_pending, context, true, true, true);
    io_call_driver(&lower, irp)
}

/// Logs PendingReturned and, as a routine that lets completion go on must,
/// marks the IRP pending if it is set (book l.5545–5549).
fn propagate_pending(
    _: Option<&DeviceObject>,
    mut irp: Irp,
    context: &CompletionContext,
) -> Completion {
    let (setter, log) = context_of::<(&'static str, Log)>(context);
    log.push(format!("{setter}'s routine: pending returned {}", irp.pending_returned()));
    if irp.pending_returned() {
        io_mark_irp_pending(&mut irp);
    }
    Completion::Continue(irp)
}

/// The bottom driver marks the IRP pending and a system thread completes it
/// later. The middle driver's completion routine sees PendingReturned; the
/// top driver, which has no routine, returns the lower STATUS_PENDING (its
/// pending bit is set for it on the way up, spec §1.8 step 4); and the
/// Win32 caller on a synchronous handle waits and gets the final status and
/// data. Over 100 seeds on 2 processors, with the thread completing after a
/// 50 µs delay and at once (then the completion races the dispatch
/// routines' returns).
#[test]
fn a_pending_irp_completed_later_reaches_a_synchronous_caller_with_its_final_status() {
    Machine::sim()
        .processors(2)
        .explore(0..100, || {
            let log = Log::default();
            stack(
                &log,
                &[
                    ("PendTop", forward_and_return_lower_status),
                    ("PendMiddle", forward_propagating_pending),
                    ("PendBottom", pend_and_complete_from_thread),
                ],
            );
            let handle = open("\\\\.\\PendBottom");
            let mut seen = 0;
            for delay_us in [50u32, 0] {
                let mut output = *b"........";
                let (status, iosb) = nt_device_io_control_file(
                    handle,
                    IOCTL_BUFFERED,
                    &delay_us.to_le_bytes(),
                    &mut output,
                    8,
                );
                assert_eq!(status, STATUS_SUCCESS);
                assert_eq!(iosb, Some(IoStatusBlock { status: STATUS_SUCCESS, information: 4 }));
                assert_eq!(&output, b"late....");
                // The routine and the top driver's return can come in
                // either order.
                let mut lines = new_lines(&log, &mut seen);
                lines.sort();
                assert_eq!(
                    lines,
                    [
                        "PendMiddle's routine: pending returned true",
                        "PendTop returns STATUS_PENDING"
                    ]
                );
            }
            assert!(close_handle(handle));
        })
        .assert_ok();
}

// ---------------------------------------------------------------------------
// 6. STATUS_MORE_PROCESSING_REQUIRED: forward and wait
// ---------------------------------------------------------------------------

/// What the upper driver's completion routine hands back to its dispatch
/// routine.
struct Reclaim {
    done: Event,
    irp: Mutex<Option<Irp>>,
}

/// Keeps the IRP, wakes the dispatch routine, and stops the completion walk
/// (book l.5496).
fn reclaim(_: Option<&DeviceObject>, irp: Irp, context: &CompletionContext) -> Completion {
    let reclaim = context_of::<Reclaim>(context);
    *reclaim.irp.lock() = Some(irp);
    ke_set_event(&reclaim.done, 0, false);
    Completion::MoreProcessingRequired
}

/// The book's "forward and wait" (l.5486–5541): passes the IRP down with
/// [`reclaim`], waits if it pended, then finishes the IRP itself, adding
/// "+up" to the data and 3 to the lower driver's Information.
fn forward_and_wait(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let me = layer(device);
    let lower = device.lower_device().expect("a lower device");
    let back = Arc::new(Reclaim {
        done: Event::new(EventType::NotificationEvent, false),
        irp: Mutex::new(None),
    });
    io_copy_current_irp_stack_location_to_next(&mut irp);
    io_set_completion_routine(&mut irp, reclaim, Some(back.clone()), true, true, true);
    if io_call_driver(&lower, irp) == STATUS_PENDING {
        ke_wait_for_single_object(&back.done, None);
    }
    let mut irp = back.irp.lock().take().expect("the completion routine kept the IRP");
    let below = irp.io_status();
    me.log.push(format!(
        "{} owns the IRP again at location {}: {below:?}",
        me.name,
        irp.current_location()
    ));
    if let Some(system) = irp.system_buffer_mut() {
        system[4..7].copy_from_slice(b"+up");
    }
    complete(irp, below.status, below.information + 3)
}

/// An upper driver that waits for the lower one (which pends and completes
/// from a thread, after a delay or at once), gets the IRP back through
/// STATUS_MORE_PROCESSING_REQUIRED and completes it again with another
/// Information: the caller sees the upper driver's final IoStatus and data
/// (book l.5486–5541).
#[test]
fn an_upper_driver_reclaims_the_irp_and_its_completion_is_what_the_caller_sees() {
    Machine::sim()
        .processors(2)
        .explore(0..50, || {
            let log = Log::default();
            stack(&log, &[("Waiter", forward_and_wait), ("Late", pend_and_complete_from_thread)]);
            let handle = open("\\\\.\\Late");
            let mut seen = 0;
            for delay_us in [50u32, 0] {
                let mut output = *b"........";
                let (status, iosb) = nt_device_io_control_file(
                    handle,
                    IOCTL_BUFFERED,
                    &delay_us.to_le_bytes(),
                    &mut output,
                    8,
                );
                assert_eq!(status, STATUS_SUCCESS);
                assert_eq!(iosb, Some(IoStatusBlock { status: STATUS_SUCCESS, information: 7 }));
                assert_eq!(&output, b"late+up.");
                assert_eq!(
                    new_lines(&log, &mut seen),
                    [format!(
                        "Waiter owns the IRP again at location 2: {:?}",
                        IoStatusBlock { status: STATUS_SUCCESS, information: 4 }
                    )]
                );
            }
            assert!(close_handle(handle));
        })
        .assert_ok();
}

/// Marks the IRP pending and has a system thread complete it if the IOCTL
/// code is 1; completes it at once otherwise.
fn pend_if_code_is_1(_device: &DeviceObject, mut irp: Irp) -> NtStatus {
    if ioctl_code(&irp) != 1 {
        return complete(irp, STATUS_SUCCESS, 0);
    }
    io_mark_irp_pending(&mut irp);
    let worker = ps_create_system_thread(move || {
        complete(irp, STATUS_SUCCESS, 0);
    });
    assert!(worker.is_ok(), "PsCreateSystemThread");
    STATUS_PENDING
}

/// Uses the IRP it was given for two requests of its own to the lower
/// driver, one after the other, as a USB client driver sends URBs: it fills
/// the next location itself (IoGetNextIrpStackLocation), sets [`reclaim`]
/// and waits if the call pended. The lower driver pends the first request
/// (code 1) and completes the second (code 0) at once. Logs PendingReturned
/// after each, then completes the IRP.
fn two_requests_below(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let me = layer(device);
    let lower = device.lower_device().expect("a lower device");
    let back = Arc::new(Reclaim {
        done: Event::new(EventType::NotificationEvent, false),
        irp: Mutex::new(None),
    });
    for code in [1, 0] {
        let next = io_get_next_irp_stack_location(&mut irp);
        next.major_function = IRP_MJ_INTERNAL_DEVICE_CONTROL;
        next.parameters = Parameters::DeviceIoControl {
            output_buffer_length: 0,
            input_buffer_length: 0,
            io_control_code: code,
            type3_input_buffer: None,
        };
        io_set_completion_routine(&mut irp, reclaim, Some(back.clone()), true, true, true);
        if io_call_driver(&lower, irp) == STATUS_PENDING {
            ke_wait_for_single_object(&back.done, None);
        }
        ke_clear_event(&back.done);
        irp = back.irp.lock().take().expect("the completion routine kept the IRP");
        me.log.push(format!("request {code}: pending returned {}", irp.pending_returned()));
    }
    complete(irp, STATUS_SUCCESS, 0)
}

/// An IRP reclaimed with STATUS_MORE_PROCESSING_REQUIRED and sent down
/// again carries nothing of the earlier round into the new one: the
/// completion walk clears each location it passes (ZeroIrpStackLocation,
/// Control = 0) and IoSetCompletionRoutine sets the next location's Control
/// afresh, so PendingReturned is the new round's own (false when the lower
/// driver completed at once) and nothing is reported as marked pending.
#[test]
fn a_reclaimed_irp_sent_down_again_sees_only_the_new_rounds_pending_returned() {
    Machine::sim()
        .processors(2)
        .explore(0..20, || {
            let log = Log::default();
            stack(&log, &[("Resend", two_requests_below), ("Twice", pend_if_code_is_1)]);
            let handle = open("\\\\.\\Twice");
            let mut output = [0u8; 0];
            let (status, iosb) =
                nt_device_io_control_file(handle, IOCTL_BUFFERED, b"", &mut output, 0);
            assert_eq!(status, STATUS_SUCCESS);
            assert_eq!(iosb, Some(IoStatusBlock { status: STATUS_SUCCESS, information: 0 }));
            assert!(close_handle(handle));
            assert_eq!(
                log.lines(),
                ["request 1: pending returned true", "request 0: pending returned false"]
            );
        })
        .assert_ok();
}

// ---------------------------------------------------------------------------
// 7. The default dispatch routine
// ---------------------------------------------------------------------------

/// Creates `\Device\Bare0` (link `\??\Bare0`) and handles only create and
/// close.
fn bare_entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
    driver.major_function[IRP_MJ_CREATE as usize] = Some(succeed);
    driver.major_function[IRP_MJ_CLOSE as usize] = Some(succeed);
    named_device_in_driver_entry(driver, "Bare0")
}

/// Creates `\Device\Mute0` (link `\??\Mute0`) and sets no entry point.
fn mute_entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
    named_device_in_driver_entry(driver, "Mute0")
}

fn named_device_in_driver_entry(driver: &mut DriverObject, name: &str) -> NtStatus {
    let device = format!("\\Device\\{name}");
    if let Err(status) =
        io_create_device(driver.driver(), (), Some(&device), FILE_DEVICE_UNKNOWN, 0, false)
    {
        return status;
    }
    io_create_symbolic_link(&format!("\\??\\{name}"), &device)
}

fn succeed(_device: &DeviceObject, irp: Irp) -> NtStatus {
    complete(irp, STATUS_SUCCESS, 0)
}

/// A major function the driver did not set is completed by the I/O
/// manager with STATUS_INVALID_DEVICE_REQUEST, which Win32 callers see as
/// ERROR_INVALID_FUNCTION (book l.4237); a driver without IRP_MJ_CREATE
/// cannot even be opened.
#[test]
fn an_unset_major_function_fails_with_invalid_device_request() {
    let run = Machine::sim().run(|| {
        load_driver("Bare", bare_entry).expect("DriverEntry");
        load_driver("Mute", mute_entry).expect("DriverEntry");
        let handle = open("\\\\.\\Bare0");
        let mut output = [0u8; 4];
        let mut count = 0xDEAD_F00D;
        let ioctl = device_io_control(handle, IOCTL_BUFFERED, b"", 0, &mut output, 4, &mut count);
        let ioctl_error = get_last_error();
        let read = read_file(handle, &mut output, 4, &mut count);
        let read_error = get_last_error();
        let nt = nt_device_io_control_file(handle, IOCTL_BUFFERED, b"", &mut output, 4);
        let closed = close_handle(handle);
        let mute = create_file("\\\\.\\Mute0", GENERIC_READ, 0, OPEN_EXISTING, 0);
        ((ioctl, ioctl_error), (read, read_error, count), nt, closed, (mute, get_last_error()))
    });
    let (ioctl, read, nt, closed, mute) = run.value();
    assert_eq!(ioctl, (false, ERROR_INVALID_FUNCTION));
    assert_eq!(read, (false, ERROR_INVALID_FUNCTION, 0));
    assert_eq!(nt, (STATUS_INVALID_DEVICE_REQUEST, None));
    assert!(closed);
    assert_eq!(mute, (INVALID_HANDLE_VALUE, ERROR_INVALID_FUNCTION));
}

// ---------------------------------------------------------------------------
// 8. Buffer transfer methods
// ---------------------------------------------------------------------------

/// What a dispatch routine found in an IRP's buffers.
#[derive(Debug, Default, PartialEq)]
struct Buffers {
    system: Option<Vec<u8>>,
    /// MmGetMdlByteCount and the bytes the MDL maps.
    mdl: Option<(usize, Vec<u8>)>,
    user: Option<Vec<u8>>,
    type3_input: Option<Vec<u8>>,
}

impl Buffers {
    fn of(irp: &Irp) -> Buffers {
        let type3_input = match &irp.current_stack_location().parameters {
            Parameters::DeviceIoControl { type3_input_buffer, .. } => {
                type3_input_buffer.as_ref().map(UserMemory::to_vec)
            }
            _ => None,
        };
        Buffers {
            system: irp.system_buffer().map(<[u8]>::to_vec),
            mdl: irp
                .mdl_address()
                .map(|mdl| (mdl.byte_count(), mm_get_system_address_for_mdl_safe(mdl).to_vec())),
            user: irp.user_buffer().map(UserMemory::to_vec),
            type3_input,
        }
    }
}

/// The extension of a "Bufs" device: the buffers each request showed.
#[derive(Default)]
struct Seen(Mutex<Vec<Buffers>>);

impl Seen {
    fn last(device: &DeviceObject) -> Buffers {
        device.extension::<Seen>().0.lock().pop().expect("a request reached the driver")
    }
}

fn bufs_entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
    driver.major_function[IRP_MJ_CREATE as usize] = Some(succeed);
    driver.major_function[IRP_MJ_CLOSE as usize] = Some(succeed);
    driver.major_function[IRP_MJ_READ as usize] = Some(bufs_io);
    driver.major_function[IRP_MJ_WRITE as usize] = Some(bufs_io);
    driver.major_function[IRP_MJ_DEVICE_CONTROL as usize] = Some(bufs_io);
    STATUS_SUCCESS
}

/// Records the buffers it got. A write succeeds with its length. A read or
/// an IOCTL (but METHOD_IN_DIRECT, whose buffer carries data to the device)
/// fills the whole output, wherever the method puts it, with "abcdef…", and
/// reports only 3 bytes (fewer if the output is shorter).
fn bufs_io(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    device.extension::<Seen>().0.lock().push(Buffers::of(&irp));
    let output = match irp.current_stack_location().parameters {
        Parameters::Write { length, .. } => return complete(irp, STATUS_SUCCESS, length as usize),
        Parameters::Read { length, .. } => length as usize,
        Parameters::DeviceIoControl { io_control_code, .. }
            if io_control_code & 3 == METHOD_IN_DIRECT =>
        {
            0
        }
        Parameters::DeviceIoControl { output_buffer_length, .. } => output_buffer_length as usize,
        _ => return complete(irp, STATUS_INVALID_PARAMETER, 0),
    };
    let pattern: Vec<u8> = (b'a'..=b'z').cycle().take(output).collect();
    // The direct methods' system buffer holds only the input.
    if let Some(mdl) = irp.mdl_address() {
        mm_get_system_address_for_mdl_safe(mdl).write(0, &pattern);
    } else if let Some(user) = irp.user_buffer() {
        user.write(0, &pattern);
    } else if let Some(system) = irp.system_buffer_mut() {
        system[..output].copy_from_slice(&pattern);
    }
    complete(irp, STATUS_SUCCESS, output.min(3))
}

/// Loads the Bufs driver with a device `\Device\<name>` (link
/// `\??\<name>`) with `flags`, and opens it.
fn open_bufs(name: &str, flags: u32) -> (DeviceObject, Handle) {
    let driver = load_driver("Bufs", bufs_entry).expect("DriverEntry");
    let device = io_create_device(
        &driver,
        Seen::default(),
        Some(&format!("\\Device\\{name}")),
        FILE_DEVICE_UNKNOWN,
        0,
        false,
    )
    .expect("IoCreateDevice");
    device.set_flags(flags);
    device.clear_flags(DO_DEVICE_INITIALIZING);
    let link = io_create_symbolic_link(&format!("\\??\\{name}"), &format!("\\Device\\{name}"));
    assert_eq!(link, STATUS_SUCCESS);
    let handle = open(&format!("\\\\.\\{name}"));
    (device, handle)
}

/// DO_BUFFERED_IO: a write's data arrives in AssociatedIrp.SystemBuffer,
/// copied before dispatch; there is no MDL and no UserBuffer (book
/// l.4411–4418).
#[test]
fn a_buffered_write_brings_the_data_in_the_system_buffer() {
    let run = Machine::sim().run(|| {
        let (device, handle) = open_bufs("Buffered0", DO_BUFFERED_IO);
        let mut written = 0;
        let ok = write_file(handle, b"hello", 5, &mut written);
        assert!(close_handle(handle));
        (ok, written, Seen::last(&device))
    });
    let (ok, written, seen) = run.value();
    assert!(ok);
    assert_eq!(written, 5);
    assert_eq!(seen, Buffers { system: Some(b"hello".to_vec()), ..Buffers::default() });
}

/// DO_BUFFERED_IO: a read gets a system buffer of its length; the caller
/// receives exactly IoStatus.Information bytes of it, though the driver
/// wrote the whole buffer (spec §1.5).
#[test]
fn a_buffered_read_returns_exactly_information_bytes() {
    let run = Machine::sim().run(|| {
        let (device, handle) = open_bufs("Buffered1", DO_BUFFERED_IO);
        let mut buffer = *b"........";
        let mut read = 0;
        let ok = read_file(handle, &mut buffer, 8, &mut read);
        assert!(close_handle(handle));
        (ok, read, buffer, Seen::last(&device))
    });
    let (ok, read, buffer, seen) = run.value();
    assert!(ok);
    assert_eq!(read, 3);
    assert_eq!(&buffer, b"abc.....");
    assert_eq!(seen, Buffers { system: Some(vec![0; 8]), ..Buffers::default() });
}

/// DO_DIRECT_IO: an MDL describes the caller's buffer (no system buffer, no
/// UserBuffer); a write shows the caller's bytes through it, and what a
/// read writes through MmGetSystemAddressForMdlSafe is in the caller's
/// buffer, all of it, whatever Information says (book l.4419–4423).
#[test]
fn direct_io_maps_the_callers_buffer_with_an_mdl() {
    let run = Machine::sim().run(|| {
        let (device, handle) = open_bufs("Direct0", DO_DIRECT_IO);
        let mut written = 0;
        assert!(write_file(handle, b"to-dev", 6, &mut written));
        let write = Seen::last(&device);
        let mut buffer = *b"........";
        let mut read = 0;
        assert!(read_file(handle, &mut buffer, 8, &mut read));
        let read_seen = Seen::last(&device);
        assert!(close_handle(handle));
        (written, write, read, buffer, read_seen)
    });
    let (written, write, read, buffer, read_seen) = run.value();
    assert_eq!(written, 6);
    assert_eq!(write, Buffers { mdl: Some((6, b"to-dev".to_vec())), ..Buffers::default() });
    assert_eq!(read, 3);
    assert_eq!(&buffer, b"abcdefgh");
    assert_eq!(read_seen, Buffers { mdl: Some((8, b"........".to_vec())), ..Buffers::default() });
}

/// Neither DO_BUFFERED_IO nor DO_DIRECT_IO: the driver gets the caller's
/// buffer itself as Irp->UserBuffer (book l.4426).
#[test]
fn neither_flag_gives_the_user_buffer() {
    let run = Machine::sim().run(|| {
        let (device, handle) = open_bufs("Neither0", 0);
        let mut buffer = *b"........";
        let mut read = 0;
        assert!(read_file(handle, &mut buffer, 8, &mut read));
        assert!(close_handle(handle));
        (read, buffer, Seen::last(&device))
    });
    let (read, buffer, seen) = run.value();
    assert_eq!(read, 3);
    assert_eq!(&buffer, b"abcdefgh");
    assert_eq!(seen, Buffers { user: Some(b"........".to_vec()), ..Buffers::default() });
}

/// DeviceIoControl on a new Bufs device `name`: whether it succeeded, the bytes
/// returned, the caller's output buffer after the call, and the buffers the
/// driver saw.
fn bufs_ioctl(name: &str, code: u32, input: &[u8], output: &[u8]) -> (bool, u32, Vec<u8>, Buffers) {
    let (device, handle) = open_bufs(name, 0);
    let mut out = output.to_vec();
    let mut count = 0xDEAD_F00D;
    let ok = device_io_control(
        handle,
        code,
        input,
        input.len() as u32,
        &mut out,
        output.len() as u32,
        &mut count,
    );
    assert!(close_handle(handle));
    (ok, count, out, Seen::last(&device))
}

/// METHOD_BUFFERED: input and output share one system buffer of
/// max(InputBufferLength, OutputBufferLength) bytes, the input copied in;
/// Information bytes of it go back to the caller (book l.4428–4434).
#[test]
fn method_buffered_shares_one_system_buffer_of_the_larger_length() {
    let run = Machine::sim().run(|| {
        let longer_output = bufs_ioctl("Ioctl0", IOCTL_BUFFERED, b"in", b"........");
        let longer_input = bufs_ioctl("Ioctl1", IOCTL_BUFFERED, b"0123456789", b"..");
        (longer_output, longer_input)
    });
    let (longer_output, longer_input) = run.value();
    assert_eq!(
        longer_output,
        (
            true,
            3,
            b"abc.....".to_vec(),
            Buffers { system: Some(b"in\0\0\0\0\0\0".to_vec()), ..Buffers::default() }
        )
    );
    assert_eq!(
        longer_input,
        (
            true,
            2,
            b"ab".to_vec(),
            Buffers { system: Some(b"0123456789".to_vec()), ..Buffers::default() }
        )
    );
}

/// METHOD_IN_DIRECT and METHOD_OUT_DIRECT: the input in the system buffer
/// (its own length), the output buffer behind an MDL. IN_DIRECT's carries
/// the caller's data to the device; what the driver writes into
/// OUT_DIRECT's is in the caller's buffer, all of it (book l.4436).
#[test]
fn direct_methods_put_the_input_in_the_system_buffer_and_the_output_behind_an_mdl() {
    let run = Machine::sim().run(|| {
        let in_direct = bufs_ioctl("Ioctl0", IOCTL_IN_DIRECT, b"in", b"to-device");
        let out_direct = bufs_ioctl("Ioctl1", IOCTL_OUT_DIRECT, b"in", b"........");
        (in_direct, out_direct)
    });
    let (in_direct, out_direct) = run.value();
    assert_eq!(
        in_direct,
        (
            true,
            0,
            b"to-device".to_vec(),
            Buffers {
                system: Some(b"in".to_vec()),
                mdl: Some((9, b"to-device".to_vec())),
                ..Buffers::default()
            }
        )
    );
    assert_eq!(
        out_direct,
        (
            true,
            3,
            b"abcdefgh".to_vec(),
            Buffers {
                system: Some(b"in".to_vec()),
                mdl: Some((8, b"........".to_vec())),
                ..Buffers::default()
            }
        )
    );
}

/// METHOD_NEITHER: the input is Parameters.DeviceIoControl.Type3InputBuffer
/// and the output Irp->UserBuffer, both the caller's own memory; no system
/// buffer, no MDL (book l.4438).
#[test]
fn method_neither_passes_the_callers_buffers_raw() {
    let run = Machine::sim().run(|| bufs_ioctl("Ioctl0", IOCTL_NEITHER, b"in", b"........"));
    assert_eq!(
        run.value(),
        (
            true,
            3,
            b"abcdefgh".to_vec(),
            Buffers {
                user: Some(b"........".to_vec()),
                type3_input: Some(b"in".to_vec()),
                ..Buffers::default()
            }
        )
    );
}

// ---------------------------------------------------------------------------
// 9. IRPs a driver builds
// ---------------------------------------------------------------------------

/// Completes with STATUS_SUCCESS and the IOCTL code as Information, after
/// marking the IRP pending (so it also returns STATUS_PENDING).
fn pend_and_complete_at_once(_device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let information = ioctl_code(&irp) as usize;
    io_mark_irp_pending(&mut irp);
    complete(irp, STATUS_SUCCESS, information);
    STATUS_PENDING
}

/// A completion routine that keeps the IRP in its context.
fn keep_irp(_: Option<&DeviceObject>, irp: Irp, context: &CompletionContext) -> Completion {
    *context_of::<Mutex<Option<Irp>>>(context).lock() = Some(irp);
    Completion::MoreProcessingRequired
}

/// Sets up `irp`'s first location as an internal IOCTL with `code` and
/// [`keep_irp`] as its completion routine.
fn prepare(irp: &mut Irp, code: u32, kept: &Arc<Mutex<Option<Irp>>>) {
    let next = io_get_next_irp_stack_location(irp);
    next.major_function = IRP_MJ_INTERNAL_DEVICE_CONTROL;
    next.parameters = Parameters::DeviceIoControl {
        output_buffer_length: 0,
        input_buffer_length: 0,
        io_control_code: code,
        type3_input_buffer: None,
    };
    io_set_completion_routine(irp, keep_irp, Some(kept.clone()), true, true, true);
}

/// An IRP from IoAllocateIrp, freed by its own completion routine (which
/// returns STATUS_MORE_PROCESSING_REQUIRED): the routine gets no device,
/// sees the final IoStatus, and nothing is leaked or dropped.
#[test]
fn an_allocated_irp_is_freed_by_its_completion_routine() {
    let (status, lines) = send_down(&[("Leaf", complete_with_code_as_status)], 0);
    assert_eq!(status, STATUS_SUCCESS);
    assert_eq!(lines, ["allocator's routine: device None, location 2, STATUS_SUCCESS"]);
}

/// IoReuseIrp: an IRP kept by its completion routine after a round that
/// pended is reset (IoStatus to the given status, no PendingReturned,
/// current location back above the top, locations cleared) and can be sent
/// again.
#[test]
fn a_reused_irp_can_be_sent_again() {
    let run = Machine::sim().run(|| {
        let log = Log::default();
        let devices = stack(&log, &[("Reuse", pend_and_complete_at_once)]);
        let kept = Arc::new(Mutex::new(None::<Irp>));
        let mut irp = io_allocate_irp(devices[0].stack_size(), false).expect("IoAllocateIrp");

        prepare(&mut irp, 7, &kept);
        let first_return = io_call_driver(&devices[0], irp);
        let mut irp = kept.lock().take().expect("kept after the first round");
        let first = (irp.io_status(), irp.pending_returned(), irp.current_location());

        io_reuse_irp(&mut irp, STATUS_NOT_SUPPORTED);
        let reset = (
            irp.io_status(),
            irp.pending_returned(),
            irp.current_location(),
            irp.stack_count(),
            io_get_next_irp_stack_location(&mut irp).parameters == Parameters::None,
        );

        prepare(&mut irp, 9, &kept);
        let second_return = io_call_driver(&devices[0], irp);
        let irp = kept.lock().take().expect("kept after the second round");
        let second = (irp.io_status(), irp.pending_returned(), irp.current_location());
        io_free_irp(irp);
        (first_return, first, reset, second_return, second)
    });
    let (first_return, first, reset, second_return, second) = run.value();
    let done = |information| IoStatusBlock { status: STATUS_SUCCESS, information };
    assert_eq!(first_return, STATUS_PENDING);
    assert_eq!(first, (done(7), true, 2));
    assert_eq!(
        reset,
        (IoStatusBlock { status: STATUS_NOT_SUPPORTED, information: 0 }, false, 2, 1, true)
    );
    assert_eq!(second_return, STATUS_PENDING);
    assert_eq!(second, (done(9), true, 2));
}

/// IoBuildSynchronousFsdRequest (a READ on a buffered device): the I/O
/// manager finishes it like a Win32 read — Information bytes copied to the
/// caller's buffer, the status block written, the event set.
#[test]
fn a_synchronous_fsd_read_reports_through_its_status_handle() {
    let run = Machine::sim().run(|| {
        let (device, handle) = open_bufs("Fsd0", DO_BUFFERED_IO);
        let event = Event::new(EventType::NotificationEvent, false);
        let (irp, request) =
            io_build_synchronous_fsd_request(IRP_MJ_READ, &device, b"........", 8, 0, &event)
                .expect("IoBuildSynchronousFsdRequest");
        let stack = (irp.stack_count(), irp.current_location());
        if io_call_driver(&device, irp) == STATUS_PENDING {
            ke_wait_for_single_object(&event, None);
        }
        assert!(close_handle(handle));
        (stack, ke_read_state_event(&event), request.io_status(), request.output())
    });
    let (stack, signaled, io_status, output) = run.value();
    assert_eq!(stack, (1, 2));
    assert!(signaled);
    assert_eq!(io_status, Some(IoStatusBlock { status: STATUS_SUCCESS, information: 3 }));
    assert_eq!(output, b"abc.....");
}

/// IoBuildDeviceIoControlRequest: the transfer method applies as for
/// DeviceIoControl (METHOD_BUFFERED: Information bytes copied back;
/// METHOD_OUT_DIRECT: the driver writes the output buffer itself), and the
/// handle gives the status block and the output.
#[test]
fn a_built_device_io_control_request_reports_through_its_status_handle() {
    let run = Machine::sim().run(|| {
        let (device, handle) = open_bufs("Built0", 0);
        let mut results = Vec::new();
        for code in [IOCTL_BUFFERED, IOCTL_OUT_DIRECT] {
            let event = Event::new(EventType::NotificationEvent, false);
            let (irp, request) =
                io_build_device_io_control_request(code, &device, b"in", 8, false, &event)
                    .expect("IoBuildDeviceIoControlRequest");
            if io_call_driver(&device, irp) == STATUS_PENDING {
                ke_wait_for_single_object(&event, None);
            }
            results.push((request.io_status(), request.output(), Seen::last(&device).system));
        }
        assert!(close_handle(handle));
        results
    });
    let done = Some(IoStatusBlock { status: STATUS_SUCCESS, information: 3 });
    assert_eq!(
        run.value(),
        [
            (done, b"abc\0\0\0\0\0".to_vec(), Some(b"in\0\0\0\0\0\0".to_vec())),
            (done, b"abcdefgh".to_vec(), Some(b"in".to_vec())),
        ]
    );
}

// ---------------------------------------------------------------------------
// 10–11. Device objects, names, file objects and CloseHandle
// ---------------------------------------------------------------------------

fn nothing_entry(_driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
    STATUS_SUCCESS
}

fn plain_device(driver: &Driver) -> DeviceObject {
    io_create_device(driver, (), None, FILE_DEVICE_UNKNOWN, 0, false).expect("IoCreateDevice")
}

/// IoAttachDeviceToDeviceStack attaches on top of the whole stack, returns
/// the previous top and makes StackSize the lower one's + 1;
/// IoGetAttachedDeviceReference gives the top from any member;
/// IoDetachDevice unlinks what is attached to its target (book
/// l.3085–3095).
#[test]
fn attaching_stacks_devices_and_detaching_unlinks_them() {
    let run = Machine::sim().run(|| {
        let driver = load_driver("Stacker", nothing_entry).expect("DriverEntry");
        let (a, b, c) = (plain_device(&driver), plain_device(&driver), plain_device(&driver));
        assert_eq!(a.stack_size(), 1);

        assert_eq!(io_attach_device_to_device_stack(&b, &a), Some(a.clone()));
        assert_eq!(b.stack_size(), 2);
        // Attaching to A puts C on top of the stack, above B.
        assert_eq!(io_attach_device_to_device_stack(&c, &a), Some(b.clone()));
        assert_eq!(c.stack_size(), 3);
        assert_eq!(io_get_attached_device_reference(&a), c);
        assert_eq!(io_get_attached_device_reference(&b), c);
        assert_eq!(a.attached_device(), Some(b.clone()));
        assert_eq!(c.lower_device(), Some(b.clone()));

        io_detach_device(&b);
        assert_eq!(c.lower_device(), None);
        assert_eq!(b.attached_device(), None);
        assert_eq!(io_get_attached_device_reference(&a), b);

        io_detach_device(&a);
        for device in [&c, &b, &a] {
            io_delete_device(device);
        }
        driver.devices().len()
    });
    assert_eq!(run.value(), 0);
}

/// The extension of a "Files" device: what its driver saw.
#[derive(Default)]
struct Files {
    log: Log,
}

fn files_entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
    for major in [IRP_MJ_CREATE, IRP_MJ_CLEANUP, IRP_MJ_CLOSE, IRP_MJ_READ] {
        driver.major_function[major as usize] = Some(files_dispatch);
    }
    let exclusive = driver.driver().name() == "Exclusive";
    let name = format!("\\Device\\{}0", driver.driver().name());
    if let Err(status) = io_create_device(
        driver.driver(),
        Files::default(),
        Some(&name),
        FILE_DEVICE_UNKNOWN,
        0,
        exclusive,
    ) {
        return status;
    }
    io_create_symbolic_link(&format!("\\??\\{}0", driver.driver().name()), &name)
}

/// Logs the major function, the FileObject's name and its FsContext (which
/// create sets to 0x42), and succeeds.
fn files_dispatch(device: &DeviceObject, irp: Irp) -> NtStatus {
    let location = irp.current_stack_location();
    let file = location.file_object.as_ref().expect("a file object");
    assert_eq!(file.device_object(), device);
    device.extension::<Files>().log.push(format!(
        "{} {:?} {:#x}",
        function_name(location.major_function, 0),
        file.file_name(),
        file.fs_context()
    ));
    if location.major_function == IRP_MJ_CREATE {
        file.set_fs_context(0x42);
    }
    complete(irp, STATUS_SUCCESS, 0)
}

fn files_log(driver: &Driver) -> Vec<String> {
    driver.devices()[0].extension::<Files>().log.lines()
}

/// CreateFile finds a named device through its symbolic link; the rest of
/// the path after the device name is FileObject->FileName (book l.4383),
/// empty for a plain open.
#[test]
fn the_path_after_the_device_name_is_the_file_name() {
    let run = Machine::sim().run(|| {
        let driver = load_driver("Files", files_entry).expect("DriverEntry");
        let sub = open("\\\\.\\Files0\\sub\\file");
        let plain = open("\\\\.\\Files0");
        assert!(close_handle(sub));
        assert!(close_handle(plain));
        files_log(&driver)
            .into_iter()
            .filter(|line| line.starts_with("IRP_MJ_CREATE"))
            .collect::<Vec<_>>()
    });
    assert_eq!(run.value(), ["IRP_MJ_CREATE \"\\\\sub\\\\file\" 0x0", "IRP_MJ_CREATE \"\" 0x0"]);
}

/// CloseHandle sends IRP_MJ_CLEANUP, then IRP_MJ_CLOSE, on the file object
/// CreateFile made (book l.412, l.9711).
#[test]
fn close_handle_sends_cleanup_then_close() {
    let run = Machine::sim().run(|| {
        let driver = load_driver("Files", files_entry).expect("DriverEntry");
        let handle = open("\\\\.\\Files0");
        let mut buffer = [0u8; 1];
        let mut read = 0;
        assert!(read_file(handle, &mut buffer, 1, &mut read));
        assert!(close_handle(handle));
        files_log(&driver)
    });
    assert_eq!(
        run.value(),
        [
            "IRP_MJ_CREATE \"\" 0x0",
            "IRP_MJ_READ \"\" 0x42",
            "IRP_MJ_CLEANUP \"\" 0x42",
            "IRP_MJ_CLOSE \"\" 0x42",
        ]
    );
}

/// A device created exclusive (IoCreateDevice's Exclusive = TRUE) takes one
/// open handle at a time: a second CreateFile fails with
/// ERROR_ACCESS_DENIED, and once the first is closed it opens again.
#[test]
fn an_exclusive_device_refuses_a_second_open() {
    let run = Machine::sim().run(|| {
        let driver = load_driver("Exclusive", files_entry).expect("DriverEntry");
        let first = open("\\\\.\\Exclusive0");
        let second = create_file("\\\\.\\Exclusive0", GENERIC_READ, 0, OPEN_EXISTING, 0);
        let error = get_last_error();
        assert!(close_handle(first));
        let third = open("\\\\.\\Exclusive0");
        assert!(close_handle(third));
        let creates = files_log(&driver).iter().filter(|l| l.starts_with("IRP_MJ_CREATE")).count();
        (second, error, creates)
    });
    assert_eq!(run.value(), (INVALID_HANDLE_VALUE, ERROR_ACCESS_DENIED, 2));
}

/// Exclusivity belongs to the device the name resolves to, not to the top
/// of its stack: with a (non-exclusive) filter attached above an exclusive
/// device, a second open is still ERROR_ACCESS_DENIED (the I/O manager's
/// parse routine, IopCheckDeviceAndDriver, tests DO_EXCLUSIVE and the open
/// count of the parse device before it sends IRP_MJ_CREATE to the top).
#[test]
fn a_filter_above_an_exclusive_device_leaves_it_exclusive() {
    let run = Machine::sim().run(|| {
        let driver = load_driver("Exclusive", files_entry).expect("DriverEntry");
        let named = driver.devices()[0].clone();
        let filter_driver = load_driver("ExclusiveFilter", layer_entry).expect("DriverEntry");
        let filter = io_create_device(
            &filter_driver,
            Layer { name: "ExclusiveFilter", log: Log::default(), ioctl: forward_or_complete },
            None,
            FILE_DEVICE_UNKNOWN,
            0,
            false,
        )
        .expect("IoCreateDevice");
        io_attach_device_to_device_stack(&filter, &named).expect("attach");
        filter.clear_flags(DO_DEVICE_INITIALIZING);

        let first = open("\\\\.\\Exclusive0");
        let second = create_file("\\\\.\\Exclusive0", GENERIC_READ, 0, OPEN_EXISTING, 0);
        let error = get_last_error();
        if second != INVALID_HANDLE_VALUE {
            assert!(close_handle(second));
        }
        assert!(close_handle(first));
        (second, error)
    });
    assert_eq!(run.value(), (INVALID_HANDLE_VALUE, ERROR_ACCESS_DENIED));
}

/// Names are unique: IoCreateDevice with a taken name and IoCreateSymbolic-
/// Link with an existing link fail with STATUS_OBJECT_NAME_COLLISION;
/// IoDeleteSymbolicLink of an unknown link is STATUS_OBJECT_NAME_NOT_FOUND;
/// CreateFile of an unknown name (or a deleted link) is ERROR_FILE_NOT_FOUND.
#[test]
fn names_collide_and_unknown_names_are_not_found() {
    let run = Machine::sim().run(|| {
        let driver = load_driver("Names", nothing_entry).expect("DriverEntry");
        let device = io_create_device(
            &driver,
            Files::default(),
            Some("\\Device\\Names0"),
            FILE_DEVICE_UNKNOWN,
            0,
            false,
        )
        .expect("IoCreateDevice");
        device.clear_flags(DO_DEVICE_INITIALIZING);
        let duplicate =
            io_create_device(&driver, (), Some("\\Device\\Names0"), FILE_DEVICE_UNKNOWN, 0, false)
                .err();
        let link = io_create_symbolic_link("\\??\\Names0", "\\Device\\Names0");
        let link_again = io_create_symbolic_link("\\??\\Names0", "\\Device\\Names0");
        let unknown_link = io_delete_symbolic_link("\\??\\NoSuchLink");
        let unknown = create_file("\\\\.\\NoSuchDevice", GENERIC_READ, 0, OPEN_EXISTING, 0);
        let unknown_error = get_last_error();
        let deleted_link = io_delete_symbolic_link("\\??\\Names0");
        let through_deleted = create_file("\\\\.\\Names0", GENERIC_READ, 0, OPEN_EXISTING, 0);
        let through_deleted_error = get_last_error();
        (
            duplicate,
            (link, link_again, unknown_link, deleted_link),
            (unknown, unknown_error),
            (through_deleted, through_deleted_error),
            driver.devices().len(),
        )
    });
    let (duplicate, links, unknown, through_deleted, devices) = run.value();
    assert_eq!(duplicate, Some(STATUS_OBJECT_NAME_COLLISION));
    assert_eq!(
        links,
        (
            STATUS_SUCCESS,
            STATUS_OBJECT_NAME_COLLISION,
            STATUS_OBJECT_NAME_NOT_FOUND,
            STATUS_SUCCESS
        )
    );
    assert_eq!(unknown, (INVALID_HANDLE_VALUE, ERROR_FILE_NOT_FOUND));
    assert_eq!(through_deleted, (INVALID_HANDLE_VALUE, ERROR_FILE_NOT_FOUND));
    assert_eq!(devices, 1, "the failed IoCreateDevice left no device behind");
}

// ---------------------------------------------------------------------------
// 12. Reference counting
// ---------------------------------------------------------------------------

/// A device extension that holds a reference to `Arc<()>`, so the test can
/// see when the device's memory goes.
struct Tracked {
    _alive: Arc<()>,
}

/// IoDeleteDevice takes the device out of its driver and the namespace at
/// once (its name no longer opens), but its memory stays while someone
/// holds a reference (ObReferenceObject); the last ObDereferenceObject
/// frees it.
#[test]
fn a_deleted_device_lives_until_its_last_reference_goes() {
    let run = Machine::sim().run(|| {
        let driver = load_driver("Gone", nothing_entry).expect("DriverEntry");
        let marker = Arc::new(());
        let device = io_create_device(
            &driver,
            Tracked { _alive: marker.clone() },
            Some("\\Device\\Tracked0"),
            FILE_DEVICE_UNKNOWN,
            0,
            false,
        )
        .expect("IoCreateDevice");
        device.clear_flags(DO_DEVICE_INITIALIZING);
        assert_eq!(io_create_symbolic_link("\\??\\Tracked0", "\\Device\\Tracked0"), STATUS_SUCCESS);
        let kept = ob_reference_object(&device);
        drop(device);

        io_delete_device(&kept);
        let deleted = kept.is_deleted();
        let listed = driver.devices().contains(&kept);
        let handle = create_file("\\\\.\\Tracked0", GENERIC_READ, 0, OPEN_EXISTING, 0);
        let open_error = get_last_error();
        let alive_while_referenced = Arc::strong_count(&marker);
        ob_dereference_object(kept);
        let alive_after = Arc::strong_count(&marker);
        (deleted, listed, (handle, open_error), alive_while_referenced, alive_after)
    });
    assert_eq!(run.value(), (true, false, (INVALID_HANDLE_VALUE, ERROR_FILE_NOT_FOUND), 2, 1));
}

fn read_entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
    driver.major_function[IRP_MJ_READ as usize] = Some(succeed);
    STATUS_SUCCESS
}

/// A device with a [`Tracked`] extension that has had one read, so the
/// thread's kept IRP body has been through it.
fn tracked_device_after_a_read(marker: &Arc<()>) -> (DeviceObject, NtStatus) {
    let driver = load_driver("Kept", read_entry).expect("DriverEntry");
    let device = io_create_device(
        &driver,
        Tracked { _alive: marker.clone() },
        None,
        FILE_DEVICE_UNKNOWN,
        0,
        false,
    )
    .expect("IoCreateDevice");
    device.clear_flags(DO_DEVICE_INITIALIZING);
    let mut irp = io_allocate_irp(1, false).expect("IoAllocateIrp");
    io_get_next_irp_stack_location(&mut irp).major_function = IRP_MJ_READ;
    let status = io_call_driver(&device, irp);
    (device, status)
}

/// An IRP body kept for reuse remembers the device it went through (so
/// the next IRP there takes no reference) but shows it to no one: the next
/// IRP's location names no device before IoCallDriver. It does not keep a
/// deleted device's memory either.
#[test]
fn a_kept_irp_body_neither_shows_nor_keeps_a_deleted_device() {
    let run = Machine::sim().run(|| {
        let marker = Arc::new(());
        let (device, status) = tracked_device_after_a_read(&marker);
        let mut next = io_allocate_irp(1, false).expect("IoAllocateIrp");
        let named_before_the_call =
            io_get_next_irp_stack_location(&mut next).device_object().is_some();
        io_free_irp(next);
        let alive_before = Arc::strong_count(&marker);
        io_delete_device(&device);
        drop(device);
        (status, named_before_the_call, alive_before, Arc::strong_count(&marker))
    });
    assert_eq!(run.value(), (STATUS_SUCCESS, false, 2, 1));
}

/// A device deleted on another thread (in threaded mode) stays in this
/// thread's kept IRP body until the thread leaves its machine: then its
/// memory goes, and nothing of the machine is kept for the next one.
#[test]
fn a_device_deleted_on_another_thread_is_let_go_of_when_the_machine_ends() {
    let marker = Arc::new(());
    let inside = marker.clone();
    let run = Machine::threaded().processors(2).run(move || {
        let (device, status) = tracked_device_after_a_read(&inside);
        let deleter =
            ps_create_system_thread(move || io_delete_device(&device)).expect("a system thread");
        ke_wait_for_single_object(&deleter, None);
        status
    });
    assert_eq!(run.value(), STATUS_SUCCESS);
    assert_eq!(Arc::strong_count(&marker), 1, "the device's memory outlived its machine");
}

/// A kernel thread's file calls (ZwCreateFile, ZwWriteFile, ZwReadFile,
/// ZwClose; book l.9506–9550): the device opened by its NT name, I/O at an
/// explicit byte offset, statuses instead of Win32 errors, and an unknown
/// name refused with STATUS_OBJECT_NAME_NOT_FOUND.
#[test]
fn a_kernel_thread_uses_a_device_through_zw_calls() {
    use wdmsim::drivers::wdm1;
    let run = Machine::sim().processors(2).run(|| {
        wdmsim::pnp::install(wdm1::package());
        let node = wdmsim::pnp::add_root_device(wdm1::HARDWARE_ID).expect("starts");
        let name =
            wdmsim::pnp::pdo(node).and_then(|p| p.name().map(String::from)).expect("named PDO");
        let worker = ps_create_system_thread(move || {
            let access = GENERIC_READ | GENERIC_WRITE;
            let share = FILE_SHARE_READ | FILE_SHARE_WRITE;
            let missing = zw_create_file("\\Device\\NoSuchDevice", access, share, FILE_OPEN);
            let h = zw_create_file(&name, access, share, FILE_OPEN).expect("opens by NT name");
            let written = zw_write_file(h, b"kernel", 0);
            let mut back = [0u8; 6];
            let read = zw_read_file(h, &mut back, 0);
            let closed = zw_close(h);
            let twice = zw_close(h);
            *RESULT.lock() = Some((missing.err(), written, read, back, closed, twice));
        })
        .expect("thread");
        ke_wait_for_single_object(&worker, None);
        let result = RESULT.lock().take();
        wdmsim::pnp::remove_device(node).expect("removal");
        result
    });
    let ok = |n| Some(IoStatusBlock { status: STATUS_SUCCESS, information: n });
    assert_eq!(
        run.value(),
        Some((
            Some(STATUS_OBJECT_NAME_NOT_FOUND),
            (STATUS_SUCCESS, ok(6)),
            (STATUS_SUCCESS, ok(6)),
            *b"kernel",
            STATUS_SUCCESS,
            STATUS_INVALID_HANDLE
        ))
    );
}

type ZwResult = (
    Option<NtStatus>,
    (NtStatus, Option<IoStatusBlock>),
    (NtStatus, Option<IoStatusBlock>),
    [u8; 6],
    NtStatus,
    NtStatus,
);

/// Where the kernel thread of the Zw test leaves what it saw.
static RESULT: wdmsim::sync::Mutex<Option<ZwResult>> = wdmsim::sync::Mutex::new(None);

/// The bottom layer fills the system buffer its sender set with "wdm!".
fn fill_system_buffer(_device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let count = match irp.system_buffer_mut() {
        Some(buffer) => {
            let count = buffer.len().min(4);
            buffer[..count].copy_from_slice(&b"wdm!"[..count]);
            count
        }
        None => 0,
    };
    complete(irp, STATUS_SUCCESS, count)
}

/// A driver's own IRP carries the buffer its sender set in
/// AssociatedIrp.SystemBuffer down the stack, and the sender takes it back
/// after completion (Irp::replace_system_buffer); without one the bottom
/// driver sees none.
#[test]
fn a_driver_sets_and_takes_back_its_own_irps_system_buffer() {
    let run = Machine::sim().processors(2).run(|| {
        let log = Log::default();
        let devices =
            stack(&log, &[("Upper", pass_down_or_succeed), ("Bottom", fill_system_buffer)]);
        let kept = Arc::new(Mutex::new(None::<Irp>));
        let mut results = Vec::new();
        for buffer in [Some(vec![0u8; 6]), None] {
            let mut irp = io_allocate_irp(devices[0].stack_size(), false).expect("IoAllocateIrp");
            assert_eq!(irp.replace_system_buffer(buffer), None, "a fresh IRP has none");
            let next = io_get_next_irp_stack_location(&mut irp);
            next.major_function = IRP_MJ_INTERNAL_DEVICE_CONTROL;
            fn keep(_: Option<&DeviceObject>, irp: Irp, context: &CompletionContext) -> Completion {
                *context_of::<Mutex<Option<Irp>>>(context).lock() = Some(irp);
                Completion::MoreProcessingRequired
            }
            let context: CompletionContext = Some(kept.clone());
            io_set_completion_routine(&mut irp, keep, context, true, true, true);
            io_call_driver(&devices[0], irp);
            let mut irp = kept.lock().take().expect("kept by the sender's routine");
            results.push((irp.io_status().information, irp.replace_system_buffer(None)));
            io_free_irp(irp);
        }
        results
    });
    assert_eq!(run.value(), [(4, Some(b"wdm!\0\0".to_vec())), (0, None)]);
}
