//! Driver Verifier's PnP and power rules (spec 02 §6; src/verifier/rules.rs):
//! each broken by a small driver in a real PnP stack, with the stop code,
//! parameter 1 and the other parameters rules.rs documents pinned, next to
//! a correct variant of the same driver that must run clean.
//!
//! The drivers are [`crate::pnp`]'s toy drivers with one routine replaced
//! (each broken driver's DriverEntry calls the toy's, then swaps in its
//! flaw). They log the numbers of the IRPs they break the rule with as
//! `irp <n>`, so the tests can compare them with the stop's parameters;
//! object parameters ("device") are the simulator's object numbers, which
//! only the bug check's message names, so the tests check those through the
//! message.

use std::fmt::Debug;
use std::sync::Arc;

use crate::pnp::{
    complete, forward_and_wait, layer, package, pass_down, service, top_of, toy_add_device,
    toy_entry, toy_pnp,
};
use crate::support::{Bench, bug_check_of};
use wdmsim::ddk::*;
use wdmsim::io::DriverEntryFn;
use wdmsim::pnp::{self, DeviceNode, DriverPackage, Service};
use wdmsim::sync::Mutex;
use wdmsim::verifier::{BugCheck, Rule};
use wdmsim::{Machine, Run};

const HW: &str = "*toy\\broken";

/// Asserts that `run` ended in stop `code` with parameter 1 `p1`, raised by
/// `rule`, and that the stop ends the trace; returns the bug check.
#[track_caller]
fn assert_stop<T: Debug>(run: &Run<T>, code: u32, p1: u64, rule: Rule) -> BugCheck {
    let check = bug_check_of(run);
    assert_eq!((check.code, check.params[0], check.rule), (code, p1, rule), "{check}");
    let tail = run.trace.tail(3);
    assert!(tail.contains(&format!("BUG CHECK {code:#X} ({p1:#X})")), "trace tail:\n{tail}");
    check
}

/// Asserts the run finished without a failure.
#[track_caller]
fn assert_clean<T: Debug>(run: Run<T>) -> T {
    assert!(run.is_ok(), "the correct variant must not stop: {}", run.report());
    run.value()
}

/// The IRP numbers the broken driver logged, in order.
fn logged_irps() -> Vec<u64> {
    Bench::current()
        .log
        .lines()
        .iter()
        .filter_map(|l| l.strip_prefix("irp "))
        .map(|n| n.parse().expect("an IRP number"))
        .collect()
}

fn log_irp(irp: &Irp) {
    Bench::current().log.push(format!("irp {}", irp.number()));
}

/// The package of the broken (or correct) function driver `Fn`, whose
/// DriverEntry is `entry`.
fn broken(entry: DriverEntryFn) -> DriverPackage {
    DriverPackage::new(HW, Service::new("Fn", entry))
}

/// Installs `package`, adds its device, and runs `then` on the started node.
fn run_with(package: DriverPackage, then: impl FnOnce(DeviceNode) + 'static) -> Run<()> {
    Machine::sim().run(move || {
        Bench::install();
        pnp::install(package);
        let node = pnp::add_root_device(HW).expect("started");
        then(node);
    })
}

/// Installs `package` and adds its device (the flaw shows while it starts).
fn run_add(package: DriverPackage) -> Run<bool> {
    Machine::sim().run(move || {
        Bench::install();
        pnp::install(package);
        pnp::add_root_device(HW).is_ok()
    })
}

fn remove(node: DeviceNode) {
    assert_eq!(pnp::remove_device(node), Ok(()));
}

// ---------------------------------------------------------------------------
// PnP IRPs (spec 02 §2.1, §6 P-01, P-02, P-05, P-06)
// ---------------------------------------------------------------------------

/// Broken: fails IRP_MN_REMOVE_DEVICE (and keeps its device).
fn fail_remove_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    fn pnp(device: &DeviceObject, irp: Irp) -> NtStatus {
        let minor = irp.current_stack_location().minor_function;
        if minor == IRP_MN_REMOVE_DEVICE || minor == IRP_MN_SURPRISE_REMOVAL {
            log_irp(&irp);
            return complete(irp, STATUS_UNSUCCESSFUL);
        }
        toy_pnp(device, irp)
    }
    toy_entry(driver, path);
    driver.major_function[IRP_MJ_PNP as usize] = Some(pnp);
    STATUS_SUCCESS
}

/// Failing IRP_MN_REMOVE_DEVICE is DDI rule PnpRemove, 0xC4/0x00043006,
/// with the minor function (2) and the status in parameters 2 and 4
/// (SURPRISE_REMOVAL, 0x17, may not fail either); the toy driver, which
/// passes REMOVE down, detaches and deletes, removes cleanly (spec 02 §6
/// P-05).
#[test]
fn failing_remove_device_is_0xc4_0x43006() {
    let run = run_with(broken(fail_remove_entry), remove);
    let check = assert_stop(&run, 0xC4, 0x0004_3006, Rule::PnpRemoveFailed);
    assert_eq!((check.params[1], check.params[3]), (2, u64::from(STATUS_UNSUCCESSFUL.0)));
    let run = run_with(broken(fail_remove_entry), |node| {
        let _ = pnp::surprise_remove_device(node);
    });
    let check = assert_stop(&run, 0xC4, 0x0004_3006, Rule::PnpRemoveFailed);
    assert_eq!((check.params[1], check.params[3]), (0x17, u64::from(STATUS_UNSUCCESSFUL.0)));
    assert_clean(run_with(broken(toy_entry), remove));
}

/// rules.rs documents 0xC4/0x00043006's parameters as "minor, IRP, status":
/// parameter 3 is the failed IRP.
#[test]
fn failing_remove_device_names_the_irp_in_parameter_3() {
    let run = run_with(broken(fail_remove_entry), remove);
    let check = assert_stop(&run, 0xC4, 0x0004_3006, Rule::PnpRemoveFailed);
    assert_eq!(
        check.params[2],
        logged_irps()[0],
        "parameter 3 of PnpRemoveFailed is the IRP (rules.rs), not the device: {check}"
    );
}

/// Broken: completes IRP_MN_QUERY_LEGACY_BUS_INFORMATION, a minor it does
/// not handle, without passing it down (status left STATUS_NOT_SUPPORTED).
fn complete_untouched_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    fn pnp(device: &DeviceObject, irp: Irp) -> NtStatus {
        if irp.current_stack_location().minor_function == IRP_MN_QUERY_LEGACY_BUS_INFORMATION {
            log_irp(&irp);
            let status = irp.io_status().status;
            return complete(irp, status);
        }
        toy_pnp(device, irp)
    }
    toy_entry(driver, path);
    driver.major_function[IRP_MJ_PNP as usize] = Some(pnp);
    STATUS_SUCCESS
}

/// Completing an untouched PnP IRP instead of passing it down is
/// 0xC9/0x22F (device, IRP); passing it down is correct (spec 02 §2.1,
/// §6 P-01).
#[test]
fn a_function_driver_completing_an_untouched_pnp_irp_is_0xc9_0x22f() {
    let run = run_add(broken(complete_untouched_entry));
    let check = assert_stop(&run, 0xC9, 0x22F, Rule::PnpCompletedUntouched);
    assert_eq!(check.params[2], logged_irps()[0]);
    assert!(check.message.contains("Fn#0"), "{check}");
    assert!(assert_clean(run_add(broken(toy_entry))));
}

/// Correct: forwards IRP_MN_QUERY_PNP_DEVICE_STATE and waits for it (to OR
/// its bits in after the bus, as spec 02 §2.1 allows), then completes it
/// with the status the drivers below left: STATUS_NOT_SUPPORTED from the
/// root bus, which handles no such query.
fn forward_wait_complete_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    fn pnp(device: &DeviceObject, irp: Irp) -> NtStatus {
        if irp.current_stack_location().minor_function == IRP_MN_QUERY_PNP_DEVICE_STATE {
            let next = layer(device).next.get().cloned().expect("attached");
            let irp = forward_and_wait(&next, irp);
            let status = irp.io_status().status;
            return complete(irp, status);
        }
        toy_pnp(device, irp)
    }
    toy_entry(driver, path);
    driver.major_function[IRP_MJ_PNP as usize] = Some(pnp);
    STATUS_SUCCESS
}

/// A driver that passed a PnP IRP down (forward and wait, book
/// l.5486–5541) and completes it again with the lower drivers' status did
/// not complete it "untouched instead of passing it down" (rules.rs
/// PnpCompletedUntouched): no 0xC9/0x22F, even when that status is
/// STATUS_NOT_SUPPORTED.
#[test]
fn completing_a_forwarded_pnp_irp_with_the_lower_status_not_supported_is_correct() {
    let run = run_add(broken(forward_wait_complete_entry));
    assert!(
        run.is_ok(),
        "forward-and-wait then IoCompleteRequest with the bus's STATUS_NOT_SUPPORTED is the \
         book's pattern (l.5486–5541); the IRP was passed down: {}",
        run.report()
    );
    assert!(run.value());
}

/// Broken: sets an error in a PnP IRP and passes it down anyway.
fn fail_and_pass_down_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    fn pnp(device: &DeviceObject, mut irp: Irp) -> NtStatus {
        if irp.current_stack_location().minor_function == IRP_MN_QUERY_LEGACY_BUS_INFORMATION {
            log_irp(&irp);
            irp.io_status_mut().status = STATUS_INSUFFICIENT_RESOURCES;
            let next = layer(device).next.get().cloned().expect("attached");
            return pass_down(&next, irp);
        }
        toy_pnp(device, irp)
    }
    toy_entry(driver, path);
    driver.major_function[IRP_MJ_PNP as usize] = Some(pnp);
    STATUS_SUCCESS
}

/// Correct: fails the same IRP by completing it.
fn fail_and_complete_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    fn pnp(device: &DeviceObject, irp: Irp) -> NtStatus {
        if irp.current_stack_location().minor_function == IRP_MN_QUERY_LEGACY_BUS_INFORMATION {
            return complete(irp, STATUS_INSUFFICIENT_RESOURCES);
        }
        toy_pnp(device, irp)
    }
    toy_entry(driver, path);
    driver.major_function[IRP_MJ_PNP as usize] = Some(pnp);
    STATUS_SUCCESS
}

/// Passing a failed PnP IRP down is 0xC9/0x215 (device, IRP, status):
/// a failed IRP is completed, not passed down (book l.5444; spec 02 §6
/// P-06).
#[test]
fn passing_a_failed_pnp_irp_down_is_0xc9_0x215() {
    let run = run_add(broken(fail_and_pass_down_entry));
    let check = assert_stop(&run, 0xC9, 0x215, Rule::PnpFailurePassedDown);
    assert_eq!(
        (check.params[2], check.params[3]),
        (logged_irps()[0], u64::from(STATUS_INSUFFICIENT_RESOURCES.0))
    );
    assert!(assert_clean(run_add(broken(fail_and_complete_entry))));
}

/// Upper filter: succeeds IRP_MN_QUERY_LEGACY_BUS_INFORMATION on the way
/// down (sets STATUS_SUCCESS, passes it on).
fn setter_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    fn pnp(device: &DeviceObject, mut irp: Irp) -> NtStatus {
        if irp.current_stack_location().minor_function == IRP_MN_QUERY_LEGACY_BUS_INFORMATION {
            log_irp(&irp);
            irp.io_status_mut().status = STATUS_SUCCESS;
            let next = layer(device).next.get().cloned().expect("attached");
            return pass_down(&next, irp);
        }
        toy_pnp(device, irp)
    }
    toy_entry(driver, path);
    driver.major_function[IRP_MJ_PNP as usize] = Some(pnp);
    STATUS_SUCCESS
}

/// Broken: turns the status the filter above set back into
/// STATUS_NOT_SUPPORTED before passing the IRP on.
fn resetter_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    fn pnp(device: &DeviceObject, mut irp: Irp) -> NtStatus {
        if irp.current_stack_location().minor_function == IRP_MN_QUERY_LEGACY_BUS_INFORMATION {
            irp.io_status_mut().status = STATUS_NOT_SUPPORTED;
            let next = layer(device).next.get().cloned().expect("attached");
            return pass_down(&next, irp);
        }
        toy_pnp(device, irp)
    }
    toy_entry(driver, path);
    driver.major_function[IRP_MJ_PNP as usize] = Some(pnp);
    STATUS_SUCCESS
}

/// A status a driver set, reset to STATUS_NOT_SUPPORTED by the driver below
/// it on the way down, is 0xC9/0x216 (device, IRP) when the IRP reaches the
/// next driver; leaving it alone is correct (spec 02 §2.1 "never touch
/// IoStatus.Status", §6 P-01).
#[test]
fn resetting_a_set_pnp_status_to_not_supported_is_0xc9_0x216() {
    let setter = Service::new("Setter", setter_entry);
    let run = run_add(broken(resetter_entry).upper_filter(setter));
    let check = assert_stop(&run, 0xC9, 0x216, Rule::PnpStatusResetToNotSupported);
    assert_eq!(
        (check.params[2], check.params[3]),
        (logged_irps()[0], u64::from(STATUS_NOT_SUPPORTED.0))
    );
    assert!(assert_clean(run_add(broken(toy_entry).upper_filter(setter))));
}

/// Broken: forwards START, and on the way up turns the bus's
/// STATUS_SUCCESS back into STATUS_NOT_SUPPORTED before completing it.
fn reset_on_the_way_up_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    fn pnp(device: &DeviceObject, irp: Irp) -> NtStatus {
        if irp.current_stack_location().minor_function == IRP_MN_START_DEVICE {
            let next = layer(device).next.get().cloned().expect("attached");
            let irp = forward_and_wait(&next, irp);
            log_irp(&irp);
            return complete(irp, STATUS_NOT_SUPPORTED);
        }
        toy_pnp(device, irp)
    }
    toy_entry(driver, path);
    driver.major_function[IRP_MJ_PNP as usize] = Some(pnp);
    STATUS_SUCCESS
}

/// rules.rs describes 0xC9/0x216 as "A PnP IRP's status set by a driver
/// below turned back into STATUS_NOT_SUPPORTED": the bus succeeded START
/// and the function driver above turned it back on the way up.
#[test]
fn resetting_the_status_a_lower_driver_set_on_the_way_up_is_0xc9_0x216() {
    let run = run_add(broken(reset_on_the_way_up_entry));
    let check = bug_check_of(&run);
    assert_eq!(
        (check.code, check.params[0]),
        (0xC9, 0x216),
        "a status the bus set, turned back into STATUS_NOT_SUPPORTED by the driver above, is \
         what rules.rs documents for PnpStatusResetToNotSupported: {check}"
    );
}

// ---------------------------------------------------------------------------
// Device objects (spec 02 §1.3, §1.4, §6 P-07, P-08, P-10)
// ---------------------------------------------------------------------------

/// Broken: AddDevice leaves DO_DEVICE_INITIALIZING set.
fn initializing_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    fn add_device(driver: &Driver, pdo: &DeviceObject) -> NtStatus {
        let status = toy_add_device(driver, pdo);
        if let Some(device) = driver.devices().last() {
            device.set_flags(DO_DEVICE_INITIALIZING);
        }
        status
    }
    toy_entry(driver, path);
    driver.driver_extension.add_device = Some(add_device);
    STATUS_SUCCESS
}

/// AddDevice returning with DO_DEVICE_INITIALIZING still set is 0xC9/0x243
/// (device); clearing it is correct (book l.3091; spec 02 §6 P-10).
#[test]
fn add_device_leaving_do_device_initializing_set_is_0xc9_0x243() {
    let run = run_add(broken(initializing_entry));
    let check = assert_stop(&run, 0xC9, 0x243, Rule::DeviceInitializingNotCleared);
    assert_ne!(check.params[1], 0);
    assert!(check.message.contains("Fn#0"), "{check}");
    assert!(assert_clean(run_add(broken(toy_entry))));
}

/// Broken: at REMOVE deletes its device without detaching it first.
fn delete_attached_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    fn pnp(device: &DeviceObject, irp: Irp) -> NtStatus {
        if irp.current_stack_location().minor_function == IRP_MN_REMOVE_DEVICE {
            let next = layer(device).next.get().cloned().expect("attached");
            let mut irp = irp;
            irp.io_status_mut().status = STATUS_SUCCESS;
            let status = pass_down(&next, irp);
            io_delete_device(device);
            return status;
        }
        toy_pnp(device, irp)
    }
    toy_entry(driver, path);
    driver.major_function[IRP_MJ_PNP as usize] = Some(pnp);
    STATUS_SUCCESS
}

/// Deleting a device still attached to the stack is 0xC9/0x201 (device,
/// lower device); detaching first is correct (book l.2070–2080; spec 02
/// §1.4, §6 P-08).
#[test]
fn deleting_a_device_still_attached_at_remove_is_0xc9_0x201() {
    let run = run_with(broken(delete_attached_entry), remove);
    let check = assert_stop(&run, 0xC9, 0x201, Rule::DeleteAttachedDevice);
    assert!(check.params[1] != 0 && check.params[2] != 0 && check.params[1] != check.params[2]);
    assert!(check.message.contains("Fn#0") && check.message.contains("\\Device\\"), "{check}");
    assert_clean(run_with(broken(toy_entry), remove));
}

/// An upper filter that, at REMOVE, sends its device below one more
/// request (IOCTL 0x222004): after passing REMOVE down (broken: the device
/// below has deleted itself) or before (correct).
fn flusher(after_remove: bool) -> Service {
    fn pnp_with(device: &DeviceObject, irp: Irp, after_remove: bool) -> NtStatus {
        if irp.current_stack_location().minor_function != IRP_MN_REMOVE_DEVICE {
            return toy_pnp(device, irp);
        }
        let next = layer(device).next.get().cloned().expect("attached");
        let flush = || {
            let event = Event::new(EventType::NotificationEvent, false);
            let (request, _status) =
                io_build_device_io_control_request(0x0022_2004, &next, &[], 0, false, &event)
                    .expect("an IRP");
            log_irp(&request);
            if io_call_driver(&next, request) == STATUS_PENDING {
                ke_wait_for_single_object(&event, None);
            }
        };
        if !after_remove {
            flush();
        }
        let mut irp = irp;
        irp.io_status_mut().status = STATUS_SUCCESS;
        let status = pass_down(&next, irp);
        if after_remove {
            flush();
        }
        io_detach_device(&next);
        io_delete_device(device);
        status
    }
    fn after(driver: &mut DriverObject, path: &str) -> NtStatus {
        fn pnp(device: &DeviceObject, irp: Irp) -> NtStatus {
            pnp_with(device, irp, true)
        }
        toy_entry(driver, path);
        driver.major_function[IRP_MJ_PNP as usize] = Some(pnp);
        STATUS_SUCCESS
    }
    fn before(driver: &mut DriverObject, path: &str) -> NtStatus {
        fn pnp(device: &DeviceObject, irp: Irp) -> NtStatus {
            pnp_with(device, irp, false)
        }
        toy_entry(driver, path);
        driver.major_function[IRP_MJ_PNP as usize] = Some(pnp);
        STATUS_SUCCESS
    }
    Service::new("Flusher", if after_remove { after } else { before })
}

/// I/O sent to a device that REMOVE deleted is 0xC9/0x04 (device, IRP);
/// sending it before passing REMOVE down is correct (book l.5109; spec 02
/// §6 P-07).
#[test]
fn io_sent_to_a_removed_device_is_0xc9_0x04() {
    let run = run_with(broken(toy_entry).upper_filter(flusher(true)), remove);
    let check = assert_stop(&run, 0xC9, 0x04, Rule::CallDriverDeletedDevice);
    assert_eq!(check.params[2], logged_irps()[0]);
    assert!(check.message.contains("Fn#0"), "{check}");
    assert_clean(run_with(broken(toy_entry).upper_filter(flusher(false)), remove));
}

// ---------------------------------------------------------------------------
// Power (spec 02 §4.2, §6 P-12, P-13, P-18, P-19)
// ---------------------------------------------------------------------------

/// Sends a device SET_POWER(D3) to `node`'s stack with PoRequestPowerIrp
/// and waits for it.
fn set_d3(node: DeviceNode) {
    fn done(_: &DeviceObject, _: u8, _: PowerState, context: &CompletionContext, _: IoStatusBlock) {
        let event = context.as_deref().and_then(|c| c.downcast_ref::<Event>()).expect("Event");
        ke_set_event(event, 0, false);
    }
    let event = Event::new(EventType::NotificationEvent, false);
    let pdo = pnp::pdo(node).expect("a PDO");
    let d3 = PowerState::Device(DevicePowerState::D3);
    let status =
        po_request_power_irp(&pdo, IRP_MN_SET_POWER, d3, Some(done), Some(Arc::new(event.clone())));
    assert_eq!(status, STATUS_PENDING);
    ke_wait_for_single_object(&event, None);
}

/// Broken: passes power IRPs down without PoStartNextPowerIrp.
fn no_start_next_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    fn power(device: &DeviceObject, mut irp: Irp) -> NtStatus {
        log_irp(&irp);
        io_skip_current_irp_stack_location(&mut irp);
        po_call_driver(layer(device).next.get().expect("attached"), irp)
    }
    toy_entry(driver, path);
    driver.major_function[IRP_MJ_POWER as usize] = Some(power);
    STATUS_SUCCESS
}

/// Correct: calls PoStartNextPowerIrp in its completion routine (book
/// l.6431: "when using a completion routine, usually in that routine").
fn start_next_in_completion_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    fn routine(_: Option<&DeviceObject>, mut irp: Irp, _: &CompletionContext) -> Completion {
        if irp.pending_returned() {
            io_mark_irp_pending(&mut irp);
        }
        po_start_next_power_irp(&irp);
        Completion::Continue(irp)
    }
    fn power(device: &DeviceObject, mut irp: Irp) -> NtStatus {
        io_copy_current_irp_stack_location_to_next(&mut irp);
        io_set_completion_routine(&mut irp, routine, None, true, true, true);
        po_call_driver(layer(device).next.get().expect("attached"), irp)
    }
    toy_entry(driver, path);
    driver.major_function[IRP_MJ_POWER as usize] = Some(power);
    STATUS_SUCCESS
}

/// A power IRP a driver handled without PoStartNextPowerIrp is
/// DRIVER_POWER_STATE_FAILURE 0x9F/0x500 (0, device, IRP); calling it before
/// passing the IRP on, or in the completion routine, is correct (book
/// l.6431; spec 02 §6 P-12).
#[test]
fn a_power_irp_handled_without_po_start_next_power_irp_is_0x9f_0x500() {
    let run = run_with(broken(no_start_next_entry), set_d3);
    let check = assert_stop(&run, 0x9F, 0x500, Rule::PowerIrpNotStarted);
    assert_eq!((check.params[1], check.params[3]), (0, logged_irps()[0]));
    assert!(check.message.contains("Fn#0"), "{check}");
    assert_clean(run_with(broken(toy_entry), set_d3));
    assert_clean(run_with(broken(start_next_in_completion_entry), |node| {
        set_d3(node);
        set_d3(node);
    }));
}

/// Broken: passes power IRPs down with IoCallDriver.
fn io_call_driver_power_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    fn power(device: &DeviceObject, mut irp: Irp) -> NtStatus {
        log_irp(&irp);
        po_start_next_power_irp(&irp);
        io_skip_current_irp_stack_location(&mut irp);
        io_call_driver(layer(device).next.get().expect("attached"), irp)
    }
    toy_entry(driver, path);
    driver.major_function[IRP_MJ_POWER as usize] = Some(power);
    STATUS_SUCCESS
}

/// A power IRP sent with IoCallDriver instead of PoCallDriver is
/// 0xC9/0x200 (IRP, device) (book l.6429; spec 02 §6 P-18).
#[test]
fn a_power_irp_sent_with_io_call_driver_is_0xc9_0x200() {
    let run = run_with(broken(io_call_driver_power_entry), set_d3);
    let check = assert_stop(&run, 0xC9, 0x200, Rule::PowerIrpViaIoCallDriver);
    assert_eq!(check.params[1], logged_irps()[0]);
    assert_ne!(check.params[2], 0);
    assert_clean(run_with(broken(toy_entry), set_d3));
}

/// PoRequestPowerIrp(SET_POWER, a system state) from a driver.
fn request_system_state(node: DeviceNode) {
    let pdo = pnp::pdo(node).expect("a PDO");
    let s3 = PowerState::System(SystemPowerState::Sleeping3);
    let status = po_request_power_irp(&pdo, IRP_MN_SET_POWER, s3, None, None);
    Bench::current().log.push(format!("returned {status}"));
}

/// PoSetPowerState(a system state) from a driver.
fn set_system_state(node: DeviceNode) {
    po_set_power_state(&top_of(node), PowerState::System(SystemPowerState::Sleeping3));
}

/// A driver asking for a system power IRP (PoRequestPowerIrp) or recording
/// a system state (PoSetPowerState) is 0xC9/0x200 (device, ...): only the
/// power manager uses system states (book l.6437, l.6530; spec 02 §6
/// P-19); the same calls with a device state are correct.
#[test]
fn a_system_power_state_from_a_driver_is_0xc9_0x200() {
    for act in [request_system_state as fn(DeviceNode), set_system_state] {
        let run = run_with(broken(toy_entry), act);
        let check = assert_stop(&run, 0xC9, 0x200, Rule::SystemPowerStateByDriver);
        assert_ne!(check.params[1], 0);
    }
    assert_clean(run_with(broken(toy_entry), |node| {
        set_d3(node);
        po_set_power_state(&top_of(node), PowerState::Device(DevicePowerState::D0));
    }));
}

/// rules.rs documents SystemPowerStateByDriver's parameters as "device,
/// state": parameter 3 is the system state asked for (S3 = 4), for
/// PoRequestPowerIrp as for PoSetPowerState.
#[test]
fn a_system_power_state_from_a_driver_names_the_state_in_parameter_3() {
    let mut third = Vec::new();
    for act in [request_system_state as fn(DeviceNode), set_system_state] {
        let run = run_with(broken(toy_entry), act);
        let check = assert_stop(&run, 0xC9, 0x200, Rule::SystemPowerStateByDriver);
        third.push(check.params[2]);
    }
    assert_eq!(
        third,
        [SystemPowerState::Sleeping3 as u64; 2],
        "parameter 3 should be the state (rules.rs: \"device, state\"): PoRequestPowerIrp puts \
         the minor function there, PoSetPowerState 0"
    );
}

/// Lower filter: a pageable device (switch `PgLo.pageable`).
fn pageable_lower() -> Service {
    service("PgLo")
}

/// Broken: AddDevice attaches above a pageable device and clears
/// DO_POWER_PAGABLE on its own.
fn not_pageable_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    fn add_device(driver: &Driver, pdo: &DeviceObject) -> NtStatus {
        let status = toy_add_device(driver, pdo);
        if let Some(device) = driver.devices().last() {
            device.clear_flags(DO_POWER_PAGABLE);
        }
        status
    }
    toy_entry(driver, path);
    driver.driver_extension.add_device = Some(add_device);
    STATUS_SUCCESS
}

fn run_add_pageable(package: DriverPackage) -> Run<bool> {
    Machine::sim().run(move || {
        Bench::install().set("PgLo.pageable", 1);
        pnp::install(package);
        pnp::add_root_device(HW).is_ok()
    })
}

/// A device attached above a DO_POWER_PAGABLE device without the flag
/// itself is 0xC9/0x23F (device, lower device): power IRPs come down from
/// it at PASSIVE_LEVEL only if it is pageable too (spec 02 §4.2); keeping
/// the flag is correct.
#[test]
fn do_power_pagable_not_inherited_is_0xc9_0x23f() {
    let run = run_add_pageable(broken(not_pageable_entry).lower_filter(pageable_lower()));
    let check = assert_stop(&run, 0xC9, 0x23F, Rule::PowerPagableNotInherited);
    assert!(check.params[1] != 0 && check.params[2] != 0 && check.params[1] != check.params[2]);
    assert!(check.message.contains("Fn#0") && check.message.contains("PgLo#0"), "{check}");
    assert!(assert_clean(run_add_pageable(broken(toy_entry).lower_filter(pageable_lower()))));
}

/// Broken: passes power IRPs down to a pageable device at DISPATCH_LEVEL
/// with IoCallDriver (PoCallDriver would wait for PASSIVE_LEVEL).
fn io_call_at_dispatch_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    fn power(device: &DeviceObject, mut irp: Irp) -> NtStatus {
        log_irp(&irp);
        po_start_next_power_irp(&irp);
        io_skip_current_irp_stack_location(&mut irp);
        let old = ke_raise_irql(DISPATCH_LEVEL);
        let status = io_call_driver(layer(device).next.get().expect("attached"), irp);
        ke_lower_irql(old);
        status
    }
    toy_entry(driver, path);
    driver.major_function[IRP_MJ_POWER as usize] = Some(power);
    STATUS_SUCCESS
}

fn run_d3_above_pageable(package: DriverPackage) -> Run<()> {
    Machine::sim().run(move || {
        Bench::install().set("PgLo.pageable", 1);
        pnp::install(package);
        set_d3(pnp::add_root_device(HW).expect("started"));
    })
}

/// A power IRP sent to a DO_POWER_PAGABLE device at DISPATCH_LEVEL with
/// IoCallDriver is INTERNAL_POWER_ERROR 0xA0/0x404 (0, IRP, device): a
/// pageable device's power dispatch runs at PASSIVE_LEVEL (book l.6541);
/// PoCallDriver at PASSIVE_LEVEL is correct (spec 02 §4.2).
#[test]
fn a_power_irp_to_a_pageable_device_at_dispatch_level_is_0xa0_0x404() {
    let run =
        run_d3_above_pageable(broken(io_call_at_dispatch_entry).lower_filter(pageable_lower()));
    let check = assert_stop(&run, 0xA0, 0x404, Rule::PowerIrpToPagableAtDispatch);
    assert_eq!((check.params[1], check.params[2]), (0, logged_irps()[0]));
    assert!(check.message.contains("PgLo#0"), "{check}");
    assert_clean(run_d3_above_pageable(broken(toy_entry).lower_filter(pageable_lower())));
}

/// Power dispatch that forwards the IRP with a completion routine and waits
/// for it on an event (the "forward and wait" of book l.5486, used on a
/// power IRP), then completes it.
fn wait_in_power_entry(driver: &mut DriverObject, path: &str) -> NtStatus {
    struct Back {
        done: Event,
        irp: Mutex<Option<Irp>>,
    }
    fn routine(_: Option<&DeviceObject>, irp: Irp, context: &CompletionContext) -> Completion {
        let back = context.as_deref().and_then(|c| c.downcast_ref::<Back>()).expect("Back");
        *back.irp.lock() = Some(irp);
        ke_set_event(&back.done, 0, false);
        Completion::MoreProcessingRequired
    }
    fn power(device: &DeviceObject, mut irp: Irp) -> NtStatus {
        let back = Arc::new(Back {
            done: Event::new(EventType::NotificationEvent, false),
            irp: Mutex::new(None),
        });
        po_start_next_power_irp(&irp);
        io_copy_current_irp_stack_location_to_next(&mut irp);
        io_set_completion_routine(&mut irp, routine, Some(back.clone()), true, true, true);
        po_call_driver(layer(device).next.get().expect("attached"), irp);
        ke_wait_for_single_object(&back.done, None);
        let irp = back.irp.lock().take().expect("the routine kept the IRP");
        let status = irp.io_status().status;
        complete(irp, status)
    }
    toy_entry(driver, path);
    driver.major_function[IRP_MJ_POWER as usize] = Some(power);
    STATUS_SUCCESS
}

/// Waiting without a time-out in the power dispatch routine of a device
/// without DO_POWER_PAGABLE, called at DISPATCH_LEVEL, is 0xC4/0x121 (IRQL
/// 2, object, time-out 0); the same driver with DO_POWER_PAGABLE runs at
/// PASSIVE_LEVEL and may wait (book l.6541, l.6750; spec 02 §6 P-11, P-13).
#[test]
fn a_wait_in_a_non_pageable_power_dispatch_routine_is_0xc4_0x121() {
    let run = run_with(broken(wait_in_power_entry), set_d3);
    let check = assert_stop(&run, 0xC4, 0x121, Rule::WaitAtDispatchInfinite);
    assert_eq!((check.params[1], check.params[3]), (2, 0));
    assert_clean(Machine::sim().run(|| {
        Bench::install().set("Fn.pageable", 1);
        pnp::install(broken(wait_in_power_entry));
        set_d3(pnp::add_root_device(HW).expect("started"));
    }));
}

/// The toy drivers themselves run clean through a device's whole life with
/// a lower and an upper filter, power IRPs included (a check that the
/// correct variants above are correct for the right reason).
#[test]
fn the_toy_stack_runs_clean_through_add_power_and_removal() {
    assert_clean(Machine::sim().run(|| {
        Bench::install();
        pnp::install(package(HW, "Fn").lower_filter(service("Lo")).upper_filter(service("Up")));
        let node = pnp::add_root_device(HW).expect("started");
        set_d3(node);
        remove(node);
    }));
}
