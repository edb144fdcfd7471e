//! The power manager seen from toy drivers (spec 02 §4.1–4.4, §4.8, §4.9):
//! PoCallDriver's one-at-a-time queues and PoStartNextPowerIrp, the IRQL
//! of power dispatch routines with and without DO_POWER_PAGABLE,
//! PoRequestPowerIrp and its callback, PoSetPowerState, POWER_SEQUENCE,
//! idle detection on the virtual clock, and system sleep and wake over the
//! device tree.
//!
//! The toy drivers are those of [`crate::pnp`]: each logs every power IRP
//! it sees as `Service: SET_POWER(D3)` (with `at IRQL n` under the switch
//! `Service.log_irql`), records a device SET_POWER with PoSetPowerState and
//! passes power IRPs down with PoStartNextPowerIrp and PoCallDriver.

use std::sync::Arc;

use crate::pnp::{bus_with_two_children, layer, lines, package, release_held_power_irp, top_of};
use crate::support::{Bench, Log};
use wdmsim::ddk::*;
use wdmsim::pnp::{self, DeviceNode};
use wdmsim::po::{
    PowerBroadcast, device_power_state, query_power_sequence, set_system_power_state,
    system_power_state, take_power_broadcasts, wake_system,
};
use wdmsim::sync::Mutex;
use wdmsim::{Machine, Run};

const HW: &str = "*toy\\dev";

/// What a PoRequestPowerIrp callback was given.
#[derive(Clone, Debug, PartialEq)]
struct Called {
    device: DeviceObject,
    minor: u8,
    state: PowerState,
    tag: u32,
    io_status: IoStatusBlock,
}

/// The context of [`callback`]: a tag to recognise it, the log to write
/// "done ..." to, what the callback saw, and an event it sets.
struct Request {
    tag: u32,
    log: Log,
    called: Mutex<Vec<Called>>,
    done: Event,
}

fn context_of(context: &CompletionContext) -> &Request {
    context.as_deref().and_then(|c| c.downcast_ref::<Request>()).expect("a Request")
}

/// A PowerCompletion routine: records its arguments, logs
/// `done <state> <status>`, sets the request's event.
fn callback(
    device: &DeviceObject,
    minor: u8,
    state: PowerState,
    context: &CompletionContext,
    io_status: IoStatusBlock,
) {
    let request = context_of(context);
    let status = io_status.status.to_string();
    let name = status.split(' ').next().unwrap_or_default();
    request.log.push(format!("done {state} {name}"));
    request.called.lock().push(Called {
        device: device.clone(),
        minor,
        state,
        tag: request.tag,
        io_status,
    });
    ke_set_event(&request.done, 0, false);
}

/// PoRequestPowerIrp(pdo, minor, state, callback, a new Request tagged
/// `tag`): its return and the request.
fn request(pdo: &DeviceObject, minor: u8, state: PowerState, tag: u32) -> (NtStatus, Arc<Request>) {
    let request = Arc::new(Request {
        tag,
        log: Bench::current().log,
        called: Mutex::new(Vec::new()),
        done: Event::new(EventType::NotificationEvent, false),
    });
    let status = po_request_power_irp(pdo, minor, state, Some(callback), Some(request.clone()));
    (status, request)
}

/// Requests a device SET_POWER(`state`) for `node`'s stack and waits for
/// its callback.
fn set_device_power(node: DeviceNode, state: DevicePowerState) -> NtStatus {
    let pdo = pnp::pdo(node).expect("a PDO");
    let (status, request) = request(&pdo, IRP_MN_SET_POWER, PowerState::Device(state), 0);
    assert_eq!(status, STATUS_PENDING);
    ke_wait_for_single_object(&request.done, None);
    let called = request.called.lock().clone();
    called[0].io_status.status
}

/// A power IRP the scenario builds itself (IoAllocateIrp) for the top of
/// `node`'s stack and sends with PoCallDriver; its completion routine logs
/// `irp done <state>`, frees it and sets `done`.
fn send_own_power_irp(node: DeviceNode, minor: u8, state: PowerState, done: &Event) {
    struct Own {
        log: Log,
        state: PowerState,
        done: Event,
    }
    fn finished(_: Option<&DeviceObject>, irp: Irp, context: &CompletionContext) -> Completion {
        let own = context.as_deref().and_then(|c| c.downcast_ref::<Own>()).expect("Own");
        own.log.push(format!("irp done {}", own.state));
        io_free_irp(irp);
        ke_set_event(&own.done, 0, false);
        Completion::MoreProcessingRequired
    }
    let top = top_of(node);
    let mut irp = io_allocate_irp(top.stack_size(), false).expect("IoAllocateIrp");
    irp.io_status_mut().status = STATUS_NOT_SUPPORTED;
    let next = io_get_next_irp_stack_location(&mut irp);
    next.major_function = IRP_MJ_POWER;
    next.minor_function = minor;
    next.parameters = Parameters::Power { state, shutdown_type: PowerAction::Sleep };
    let own = Own { log: Bench::current().log, state, done: done.clone() };
    io_set_completion_routine(&mut irp, finished, Some(Arc::new(own)), true, true, true);
    po_call_driver(&top, irp);
}

fn delay_ms(ms: u64) {
    ke_delay_execution_thread(Interval::relative_ms(ms));
}

// ---------------------------------------------------------------------------
// PoCallDriver and PoStartNextPowerIrp (spec 02 §4.2)
// ---------------------------------------------------------------------------

/// Fn keeps a device SET_POWER(D2) without calling PoStartNextPowerIrp; a
/// second device SET_POWER(D3) sent meanwhile is held by the power manager
/// (PoRequestPowerIrp still returns STATUS_PENDING) and Fn does not see it,
/// while a system SET_POWER (the other kind) goes through at once. When Fn
/// calls PoStartNextPowerIrp for D2, the power manager presents D3, at the
/// IRQL a non-pageable device gets (DISPATCH_LEVEL), and both complete
/// (spec 02 §4.2, l.6427–6431). Fn passes power IRPs down with
/// IoCopyCurrentIrpStackLocationToNext here (see
/// [`a_held_power_irp_passed_down_with_skip_is_not_a_pending_violation`]).
fn held_irp_scenario() {
    let bench = Bench::install();
    pnp::install(package(HW, "Fn"));
    bench.set("Fn.log_irql", 1);
    bench.set("Fn.hold_set_power", 1);
    bench.set("Fn.copy_power", 1);
    let node = pnp::add_root_device(HW).expect("started");
    let pdo = pnp::pdo(node).expect("a PDO");
    let before = bench.log.lines().len();
    let (first, d2) = request(&pdo, IRP_MN_SET_POWER, PowerState::Device(DevicePowerState::D2), 2);
    let (second, d3) = request(&pdo, IRP_MN_SET_POWER, PowerState::Device(DevicePowerState::D3), 3);
    assert_eq!((first, second), (STATUS_PENDING, STATUS_PENDING));
    let system_done = Event::new(EventType::NotificationEvent, false);
    let s1 = PowerState::System(SystemPowerState::Sleeping1);
    send_own_power_irp(node, IRP_MN_SET_POWER, s1, &system_done);
    ke_wait_for_single_object(&system_done, None);
    assert_eq!(
        bench.log.lines()[before..],
        lines(&["Fn: SET_POWER(D2) at IRQL 2", "Fn: SET_POWER(S1) at IRQL 2", "irp done S1"]),
        "D3 is held while Fn holds D2; the system IRP is of the other kind and goes through"
    );
    bench.clear("Fn.hold_set_power");
    assert!(release_held_power_irp(&top_of(node)));
    ke_wait_for_single_object(&d2.done, None);
    ke_wait_for_single_object(&d3.done, None);
    let after: Vec<String> = bench.log.lines()[before + 3..].to_vec();
    assert!(after.first().is_some_and(|l| l.starts_with("Fn: releases ")), "{after:?}");
    let mut rest = after[1..].to_vec();
    let at = |line: &str| rest.iter().position(|l| l == line);
    assert!(
        at("Fn: SET_POWER(D3) at IRQL 2") < at("done D3 STATUS_SUCCESS"),
        "D3 is presented, then completes: {after:?}"
    );
    rest.sort();
    assert_eq!(
        rest,
        lines(&["Fn: SET_POWER(D3) at IRQL 2", "done D2 STATUS_SUCCESS", "done D3 STATUS_SUCCESS"])
    );
    assert_eq!(device_power_state(&top_of(node)), DevicePowerState::D3);
}

#[test]
fn po_call_driver_holds_a_second_device_set_power_until_po_start_next_power_irp() {
    Machine::sim().run(held_irp_scenario).value();
}

#[test]
fn held_power_irps_under_many_seeds() {
    Machine::sim().processors(2).explore(0..30, held_irp_scenario).assert_ok();
}

/// Device SET_POWERs held while the device is busy are presented one at a
/// time, in the order they were sent, each after the previous one's
/// PoStartNextPowerIrp (spec 02 §4.2: "hold the next power IRP of a kind
/// until the driver currently holding one calls PoStartNextPowerIrp").
#[test]
fn held_power_irps_are_presented_one_at_a_time_in_order() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        pnp::install(package(HW, "Fn"));
        bench.set("Fn.hold_set_power", 1);
        bench.set("Fn.copy_power", 1);
        let node = pnp::add_root_device(HW).expect("started");
        let pdo = pnp::pdo(node).expect("a PDO");
        let before = bench.log.lines().len();
        let requests: Vec<Arc<Request>> =
            [DevicePowerState::D1, DevicePowerState::D2, DevicePowerState::D3]
                .into_iter()
                .enumerate()
                .map(|(tag, state)| {
                    request(&pdo, IRP_MN_SET_POWER, PowerState::Device(state), tag as u32).1
                })
                .collect();
        let fdo = top_of(node);
        let mut seen = vec![bench.log.lines()[before..].to_vec()];
        for (i, request) in requests.iter().enumerate() {
            if i == requests.len() - 1 {
                bench.clear("Fn.hold_set_power");
            }
            // Wait until the next one is held (presented on its own thread).
            while layer(&fdo).held.lock().is_empty() {
                delay_ms(1);
            }
            assert!(release_held_power_irp(&fdo));
            ke_wait_for_single_object(&request.done, None);
            let lines: Vec<String> = bench.log.lines()[before..]
                .iter()
                .filter(|l| l.starts_with("Fn: SET_POWER"))
                .cloned()
                .collect();
            seen.push(lines);
        }
        seen
    });
    let seen = run.value();
    assert_eq!(seen[0], lines(&["Fn: SET_POWER(D1)"]), "D2 and D3 are held");
    assert_eq!(seen[3], lines(&["Fn: SET_POWER(D1)", "Fn: SET_POWER(D2)", "Fn: SET_POWER(D3)"]));
}

/// Wdm1Power's way of passing a power IRP on (PoStartNextPowerIrp,
/// IoSkipCurrentIrpStackLocation, PoCallDriver; book Listing 10.1 l.6489)
/// must work for an IRP the power manager held and presented later: the
/// driver below completing it synchronously and returning STATUS_SUCCESS
/// is correct, not 0xC9/0x23E. (The power manager marks the held IRP's
/// next location pending "as if the driver below had pended it"; with
/// skip, that mark becomes the lower driver's.)
#[test]
fn a_held_power_irp_passed_down_with_skip_is_not_a_pending_violation() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        pnp::install(package(HW, "Fn"));
        bench.set("Fn.hold_set_power", 1);
        let node = pnp::add_root_device(HW).expect("started");
        let pdo = pnp::pdo(node).expect("a PDO");
        let (_, d2) = request(&pdo, IRP_MN_SET_POWER, PowerState::Device(DevicePowerState::D2), 2);
        let (_, d3) = request(&pdo, IRP_MN_SET_POWER, PowerState::Device(DevicePowerState::D3), 3);
        bench.clear("Fn.hold_set_power");
        assert!(release_held_power_irp(&top_of(node)));
        ke_wait_for_single_object(&d2.done, None);
        ke_wait_for_single_object(&d3.done, None);
        let called: Vec<NtStatus> =
            [d2, d3].iter().map(|r| r.called.lock()[0].io_status.status).collect();
        called
    });
    assert!(
        run.is_ok(),
        "a held SET_POWER presented later and passed down with IoSkipCurrentIrpStackLocation \
         must complete cleanly; got {}",
        run.report()
    );
    assert_eq!(run.value(), [STATUS_SUCCESS, STATUS_SUCCESS]);
}

/// DO_POWER_PAGABLE: Pg's power dispatch runs at PASSIVE_LEVEL; Np, without
/// the flag, gets its power IRPs at DISPATCH_LEVEL (book l.6541; spec 02
/// §4.2), for device and system IRPs alike.
#[test]
fn a_power_dispatch_routine_runs_at_passive_level_only_with_do_power_pagable() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        pnp::install(package("*toy\\pg", "Pg"));
        pnp::install(package("*toy\\np", "Np"));
        for name in ["Pg", "Np"] {
            bench.set(&format!("{name}.log_irql"), 1);
        }
        bench.set("Pg.pageable", 1);
        let pg = pnp::add_root_device("*toy\\pg").expect("started");
        let np = pnp::add_root_device("*toy\\np").expect("started");
        let before = bench.log.lines().len();
        for node in [pg, np] {
            assert_eq!(set_device_power(node, DevicePowerState::D1), STATUS_SUCCESS);
        }
        set_system_power_state(SystemPowerState::Sleeping1, PowerAction::Sleep).expect("asleep");
        wake_system().expect("awake");
        let flags = [pg, np].map(|n| top_of(n).flags() & DO_POWER_PAGABLE != 0);
        (bench.log.lines()[before..].to_vec(), flags)
    });
    let (seen, flags) = run.value();
    assert_eq!(flags, [true, false]);
    let done = |s: &str| format!("done {s} STATUS_SUCCESS");
    assert_eq!(
        seen,
        lines(&[
            "Pg: SET_POWER(D1) at IRQL 0",
            &done("D1"),
            "Np: SET_POWER(D1) at IRQL 2",
            &done("D1"),
            "Pg: QUERY_POWER(S1) at IRQL 0",
            "Np: QUERY_POWER(S1) at IRQL 2",
            "Pg: SET_POWER(S1) at IRQL 0",
            "Np: SET_POWER(S1) at IRQL 2",
            "Np: SET_POWER(S0) at IRQL 2",
            "Pg: SET_POWER(S0) at IRQL 0",
        ])
    );
}

/// PoRequestPowerIrp(SET_POWER(D3)) made at DISPATCH_LEVEL for a stack
/// whose top is pageable (Pg, passing power IRPs down with `skip` unless
/// `copy`): the log and the outcome.
fn request_at_dispatch_level(copy: bool) -> Run<(NtStatus, Vec<String>)> {
    Machine::sim().run(move || {
        let bench = Bench::install();
        pnp::install(package(HW, "Pg"));
        bench.set("Pg.log_irql", 1);
        bench.set("Pg.pageable", 1);
        if copy {
            bench.set("Pg.copy_power", 1);
        }
        let node = pnp::add_root_device(HW).expect("started");
        let pdo = pnp::pdo(node).expect("a PDO");
        let before = bench.log.lines().len();
        let old = ke_raise_irql(DISPATCH_LEVEL);
        let (status, request) =
            request(&pdo, IRP_MN_SET_POWER, PowerState::Device(DevicePowerState::D3), 1);
        ke_lower_irql(old);
        ke_wait_for_single_object(&request.done, None);
        (status, bench.log.lines()[before..].to_vec())
    })
}

/// PoRequestPowerIrp is callable at DISPATCH_LEVEL (spec 02 §4.2), and a
/// DO_POWER_PAGABLE stack's power dispatch is called at PASSIVE_LEVEL
/// (l.6541): a request made at DISPATCH_LEVEL for a pageable stack is
/// delivered later, at PASSIVE_LEVEL, and completes.
#[test]
fn a_power_request_made_at_dispatch_level_reaches_a_pageable_stack_at_passive_level() {
    let run = request_at_dispatch_level(true);
    assert!(run.is_ok(), "{}", run.report());
    let (status, seen) = run.value();
    assert_eq!(status, STATUS_PENDING);
    assert_eq!(seen, lines(&["Pg: SET_POWER(D3) at IRQL 0", "done D3 STATUS_SUCCESS"]));
}

/// The same with Pg passing the IRP on the Wdm1Power way (skip, not copy):
/// the IRP the power manager deferred to PASSIVE_LEVEL must complete as
/// cleanly, with no 0xC9/0x23E for the root PDO below (see
/// [`a_held_power_irp_passed_down_with_skip_is_not_a_pending_violation`]).
#[test]
fn a_power_irp_deferred_to_passive_level_passed_down_with_skip_is_not_a_pending_violation() {
    let run = request_at_dispatch_level(false);
    assert!(
        run.is_ok(),
        "a power IRP deferred to PASSIVE_LEVEL and passed down with \
         IoSkipCurrentIrpStackLocation must complete cleanly; got {}",
        run.report()
    );
    let (status, seen) = run.value();
    assert_eq!(status, STATUS_PENDING);
    assert_eq!(seen, lines(&["Pg: SET_POWER(D3) at IRQL 0", "done D3 STATUS_SUCCESS"]));
}

// ---------------------------------------------------------------------------
// PoRequestPowerIrp, PoSetPowerState, POWER_SEQUENCE (spec 02 §4.2, §4.8)
// ---------------------------------------------------------------------------

/// PoRequestPowerIrp sends the IRP to the top of the PDO's stack and returns
/// STATUS_PENDING; the callback gets the device it was given, the minor,
/// the state, the caller's context and the final status: success for a
/// SET_POWER, the driver's failure for a refused QUERY_POWER, the bus's
/// STATUS_NOT_SUPPORTED for a WAIT_WAKE the root bus cannot arm. Another
/// minor, or WAIT_WAKE with a device state, is STATUS_INVALID_PARAMETER_2
/// and sends nothing (spec 02 §4.2, l.6736–6744).
#[test]
fn po_request_power_irp_calls_back_with_device_minor_state_context_and_final_status() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        pnp::install(package(HW, "Fn").upper_filter(crate::pnp::service("Up")));
        bench.set("Fn.fail_query_power", 1);
        let node = pnp::add_root_device(HW).expect("started");
        let pdo = pnp::pdo(node).expect("a PDO");
        let start = bench.log.lines().len();
        let d3 = PowerState::Device(DevicePowerState::D3);
        let d2 = PowerState::Device(DevicePowerState::D2);
        let wake = PowerState::System(SystemPowerState::Sleeping3);
        let mut statuses = Vec::new();
        let mut called = Vec::new();
        for (tag, (minor, state)) in
            [(IRP_MN_SET_POWER, d3), (IRP_MN_QUERY_POWER, d2), (IRP_MN_WAIT_WAKE, wake)]
                .into_iter()
                .enumerate()
        {
            let (status, request) = request(&pdo, minor, state, 10 + tag as u32);
            statuses.push(status);
            ke_wait_for_single_object(&request.done, None);
            called.extend(request.called.lock().iter().cloned());
        }
        let before = bench.log.lines().len();
        let (bad_minor, r1) = request(&pdo, IRP_MN_POWER_SEQUENCE, d3, 20);
        let (bad_wake, r2) = request(&pdo, IRP_MN_WAIT_WAKE, d3, 21);
        let quiet = bench.log.lines().len() == before
            && r1.called.lock().is_empty()
            && r2.called.lock().is_empty();
        (
            statuses,
            called,
            pdo,
            bad_minor,
            bad_wake,
            quiet,
            bench.log.lines()[start..before].to_vec(),
        )
    });
    let (statuses, called, pdo, bad_minor, bad_wake, quiet, seen) = run.value();
    assert_eq!(statuses, [STATUS_PENDING; 3]);
    let call = |minor, state, tag, status| Called {
        device: pdo.clone(),
        minor,
        state,
        tag,
        io_status: IoStatusBlock { status, information: 0 },
    };
    assert_eq!(
        called,
        [
            call(IRP_MN_SET_POWER, PowerState::Device(DevicePowerState::D3), 10, STATUS_SUCCESS),
            call(
                IRP_MN_QUERY_POWER,
                PowerState::Device(DevicePowerState::D2),
                11,
                STATUS_UNSUCCESSFUL
            ),
            call(
                IRP_MN_WAIT_WAKE,
                PowerState::System(SystemPowerState::Sleeping3),
                12,
                STATUS_NOT_SUPPORTED
            ),
        ]
    );
    assert_eq!(
        seen,
        lines(&[
            "Up: SET_POWER(D3)",
            "Fn: SET_POWER(D3)",
            "done D3 STATUS_SUCCESS",
            "Up: QUERY_POWER(D2)",
            "Fn: QUERY_POWER(D2)",
            "done D2 STATUS_UNSUCCESSFUL",
            "Up: WAIT_WAKE",
            "Fn: WAIT_WAKE",
            "done S3 STATUS_NOT_SUPPORTED",
        ])
    );
    assert_eq!((bad_minor, bad_wake), (STATUS_INVALID_PARAMETER_2, STATUS_INVALID_PARAMETER_2));
    assert!(quiet, "a refused request sends nothing and never calls back");
}

/// PoSetPowerState records a device state and returns the previous one
/// (spec 02 §4.2, l.6522–6530); a device object starts with none recorded
/// (PowerDeviceUnspecified).
#[test]
fn po_set_power_state_returns_the_previous_state() {
    let run = Machine::sim().run(|| {
        Bench::install();
        pnp::install(package(HW, "Fn"));
        let node = pnp::add_root_device(HW).expect("started");
        let fdo = top_of(node);
        let initial = device_power_state(&fdo);
        let mut previous = Vec::new();
        for state in
            [DevicePowerState::D3, DevicePowerState::D0, DevicePowerState::D0, DevicePowerState::D2]
        {
            previous.push(po_set_power_state(&fdo, PowerState::Device(state)));
        }
        (initial, previous, device_power_state(&fdo))
    });
    let device = PowerState::Device;
    assert_eq!(
        run.value(),
        (
            DevicePowerState::Unspecified,
            vec![
                device(DevicePowerState::Unspecified),
                device(DevicePowerState::D3),
                device(DevicePowerState::D0),
                device(DevicePowerState::D0),
            ],
            DevicePowerState::D2
        )
    );
}

/// POWER_SEQUENCE: the root bus counts each entry into D1, D2 and D3 since
/// the PDO was made, never resets them, and answers through the stack
/// (spec 02 §4.8); the toy bus keeps no counts and says so (None).
#[test]
fn power_sequence_counts_entries_into_d1_d2_and_d3() {
    let run = Machine::sim().run(|| {
        Bench::install();
        pnp::install(package(HW, "Fn"));
        let node = pnp::add_root_device(HW).expect("started");
        let pdo = pnp::pdo(node).expect("a PDO");
        let mut counts = vec![query_power_sequence(&pdo)];
        for state in [
            DevicePowerState::D3,
            DevicePowerState::D0,
            DevicePowerState::D3,
            DevicePowerState::D0,
            DevicePowerState::D1,
            DevicePowerState::D2,
            DevicePowerState::D0,
        ] {
            assert_eq!(set_device_power(node, state), STATUS_SUCCESS);
            counts.push(query_power_sequence(&pdo));
        }
        let bus = bus_with_two_children();
        let child = pnp::pdo(pnp::children(bus)[0]).expect("a PDO");
        (counts, query_power_sequence(&child))
    });
    let (counts, child) = run.value();
    let seq =
        |d1, d2, d3| Some(PowerSequence { sequence_d1: d1, sequence_d2: d2, sequence_d3: d3 });
    assert_eq!(
        counts,
        [
            seq(0, 0, 0),
            seq(0, 0, 1),
            seq(0, 0, 1),
            seq(0, 0, 2),
            seq(0, 0, 2),
            seq(1, 0, 2),
            seq(1, 1, 2),
            seq(1, 1, 2)
        ]
    );
    assert_eq!(child, None);
}

// ---------------------------------------------------------------------------
// Idle detection (spec 02 §4.4)
// ---------------------------------------------------------------------------

/// Registers `node`'s PDO for idle detection (30 s conservation, 60 s
/// performance, D3) as Wdm2 does, from the scenario.
fn register_idle(node: DeviceNode, conservation: u32, performance: u32) -> Option<IdleCounter> {
    let pdo = pnp::pdo(node).expect("a PDO");
    po_register_device_for_idle_detection(&pdo, conservation, performance, DevicePowerState::D3)
}

/// Lets `ms` of virtual time pass, then logs `at <total> s`.
fn wait_and_mark(log: &Log, total_ms: &mut u64, ms: u64) {
    delay_ms(ms);
    *total_ms += ms;
    log.push(format!("at {:.1} s", *total_ms as f64 / 1000.0));
}

/// Registered with 30/60 s and never busy, a device gets one device
/// SET_POWER(D3) from the power manager once it has been idle for the
/// performance time-out (60 s, the AC-desktop policy, l.6897), and no more
/// while its recorded state is D3 (spec 02 §4.4, §4.10).
fn idle_scenario() {
    let bench = Bench::install();
    pnp::install(package(HW, "Fn"));
    let node = pnp::add_root_device(HW).expect("started");
    let counter = register_idle(node, 30, 60);
    assert!(counter.is_some());
    let before = bench.log.lines().len();
    let mut now = 0;
    wait_and_mark(&bench.log, &mut now, 59_500);
    wait_and_mark(&bench.log, &mut now, 2_000);
    wait_and_mark(&bench.log, &mut now, 120_000);
    assert_eq!(
        bench.log.lines()[before..],
        lines(&["at 59.5 s", "Fn: SET_POWER(D3)", "at 61.5 s", "at 181.5 s"])
    );
    assert_eq!(device_power_state(&top_of(node)), DevicePowerState::D3);
    assert_eq!(pnp::remove_device(node), Ok(()));
}

#[test]
fn an_idle_device_gets_one_set_power_d3_after_the_performance_timeout() {
    Machine::sim().run(idle_scenario).value();
}

#[test]
fn idle_detection_under_many_seeds() {
    Machine::sim().processors(2).explore(0..10, idle_scenario).assert_ok();
}

/// PoSetDeviceBusy restarts the idle time: busy at 40 s, the D3 request
/// comes 60 s later, not at 60 s. Powered up again and busy, the device is
/// idle-powered-down once more after another 60 s (one request per idle
/// period) (spec 02 §4.4).
#[test]
fn po_set_device_busy_postpones_the_idle_request() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        pnp::install(package(HW, "Fn"));
        let node = pnp::add_root_device(HW).expect("started");
        let counter = register_idle(node, 30, 60).expect("registered");
        let before = bench.log.lines().len();
        let mut now = 0;
        wait_and_mark(&bench.log, &mut now, 40_000);
        po_set_device_busy(&counter);
        wait_and_mark(&bench.log, &mut now, 59_000);
        wait_and_mark(&bench.log, &mut now, 2_500);
        assert_eq!(set_device_power(node, DevicePowerState::D0), STATUS_SUCCESS);
        po_set_device_busy(&counter);
        wait_and_mark(&bench.log, &mut now, 59_000);
        wait_and_mark(&bench.log, &mut now, 2_500);
        let seen = bench.log.lines()[before..].to_vec();
        assert_eq!(pnp::remove_device(node), Ok(()));
        seen
    });
    assert_eq!(
        run.value(),
        lines(&[
            "at 40.0 s",
            "at 99.0 s",
            "Fn: SET_POWER(D3)",
            "at 101.5 s",
            "Fn: SET_POWER(D0)",
            "done D0 STATUS_SUCCESS",
            "at 160.5 s",
            "Fn: SET_POWER(D3)",
            "at 163.0 s",
        ])
    );
}

/// Both time-outs zero turn idle detection off: no counter, and no power
/// IRP however long the device idles (spec 02 §4.4).
#[test]
fn both_timeouts_zero_disable_idle_detection() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        pnp::install(package(HW, "Fn"));
        let node = pnp::add_root_device(HW).expect("started");
        let counter = register_idle(node, 0, 0);
        let before = bench.log.lines().len();
        let mut now = 0;
        wait_and_mark(&bench.log, &mut now, 300_000);
        (counter.is_none(), bench.log.lines()[before..].to_vec())
    });
    assert_eq!(run.value(), (true, lines(&["at 300.0 s"])));
}

// ---------------------------------------------------------------------------
// System sleep and wake (spec 02 §4.1, §4.3, §4.9)
// ---------------------------------------------------------------------------

/// A tree of root → ToyBus → (A: WidgetFn, B: GadgetFn) and root → Solo.
fn tree_with_solo() -> DeviceNode {
    pnp::install(package("*toy\\solo", "Solo"));
    let bus = bus_with_two_children();
    pnp::add_root_device("*toy\\solo").expect("started");
    bus
}

/// What each stack's drivers see of one system IRP, bus-stack order given.
fn stack_lines(what: &str, stacks: &[&[&str]]) -> Vec<String> {
    stacks.iter().flat_map(|s| s.iter().map(|d| format!("{d}: {what}"))).collect()
}

const A: &[&str] = &["WidgetFn", "ToyBus/A"];
const B: &[&str] = &["GadgetFn", "ToyBus/B"];
const BUS_STACK: &[&str] = &["ToyBus"];
const SOLO: &[&str] = &["Solo"];

/// Sleep (S3): applications hear PBT_APMQUERYSUSPEND, every started device
/// gets QUERY_POWER(S3), children before their parents, then
/// PBT_APMSUSPEND and SET_POWER(S3) in the same order; the system is in S3.
/// Wake: SET_POWER(S0), parents first, never queried, then
/// PBT_APMRESUMESUSPEND (spec 02 §4.1, §4.9; book l.6393).
fn sleep_scenario() {
    let bench = Bench::install();
    tree_with_solo();
    let before = bench.log.lines().len();
    assert_eq!(take_power_broadcasts(), []);
    assert_eq!(set_system_power_state(SystemPowerState::Sleeping3, PowerAction::Sleep), Ok(()));
    assert_eq!(system_power_state(), SystemPowerState::Sleeping3);
    let mut expected = stack_lines("QUERY_POWER(S3)", &[A, B, BUS_STACK, SOLO]);
    expected.extend(stack_lines("SET_POWER(S3)", &[A, B, BUS_STACK, SOLO]));
    assert_eq!(bench.log.lines()[before..], expected);
    assert_eq!(take_power_broadcasts(), [PowerBroadcast::QuerySuspend, PowerBroadcast::Suspend]);
    assert_eq!(
        set_system_power_state(SystemPowerState::Hibernate, PowerAction::Hibernate),
        Err(STATUS_INVALID_DEVICE_STATE),
        "no transition between two sleeping states"
    );
    let before = bench.log.lines().len();
    assert_eq!(wake_system(), Ok(()));
    assert_eq!(system_power_state(), SystemPowerState::Working);
    assert_eq!(bench.log.lines()[before..], stack_lines("SET_POWER(S0)", &[SOLO, BUS_STACK, B, A]));
    assert_eq!(take_power_broadcasts(), [PowerBroadcast::ResumeSuspend]);
    assert_eq!(wake_system(), Err(STATUS_INVALID_DEVICE_STATE));
    assert_eq!(
        set_system_power_state(SystemPowerState::Working, PowerAction::None),
        Err(STATUS_INVALID_DEVICE_STATE)
    );
}

#[test]
fn sleep_queries_and_sets_children_first_and_wake_sets_s0_parents_first() {
    Machine::sim().run(sleep_scenario).value();
}

#[test]
fn sleep_and_wake_under_many_seeds() {
    Machine::sim().processors(2).explore(0..20, sleep_scenario).assert_ok();
}

/// GadgetFn refuses QUERY_POWER(S3): the sleep is off. The devices already
/// asked (A, and B that refused) get SET_POWER(S0) to reassert the working
/// state, the bus and Solo are never asked, applications hear
/// PBT_APMQUERYSUSPENDFAILED, the call fails with the refusal and the
/// system stays in S0 (spec 02 §4.9).
#[test]
fn a_refused_query_power_aborts_the_sleep() {
    let run = Machine::sim().run(|| {
        let bench = Bench::install();
        bench.set("GadgetFn.fail_query_power", 1);
        tree_with_solo();
        let before = bench.log.lines().len();
        let outcome = set_system_power_state(SystemPowerState::Sleeping3, PowerAction::Sleep);
        (
            outcome,
            bench.log.lines()[before..].to_vec(),
            take_power_broadcasts(),
            system_power_state(),
        )
    });
    let (outcome, seen, broadcasts, state) = run.value();
    assert_eq!(outcome, Err(STATUS_UNSUCCESSFUL));
    let mut queried = stack_lines("QUERY_POWER(S3)", &[A]);
    queried.push("GadgetFn: QUERY_POWER(S3)".into());
    assert_eq!(seen[..3], queried);
    let mut reasserted = seen[3..].to_vec();
    reasserted.sort();
    let mut expected = stack_lines("SET_POWER(S0)", &[A, B]);
    expected.sort();
    assert_eq!(reasserted, expected);
    assert_eq!(broadcasts, [PowerBroadcast::QuerySuspend, PowerBroadcast::QuerySuspendFailed]);
    assert_eq!(state, SystemPowerState::Working);
}

// ---------------------------------------------------------------------------
// WAIT_WAKE (spec 02 §4.8)

/// A function driver whose device can wake the system: it keeps the
/// WAIT_WAKE IRP of its stack (as a wake-capable bus would) until the
/// device signals, and passes every other IRP down.
mod waker {
    use std::sync::OnceLock;

    use wdmsim::ddk::*;
    use wdmsim::sync::Mutex;

    pub const NAME: &str = "Waker";

    #[derive(Debug, Default)]
    pub struct Extension {
        next: OnceLock<DeviceObject>,
        pub wait_wake: Mutex<Option<Irp>>,
    }

    pub fn driver_entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
        driver.driver_extension.add_device = Some(add_device);
        driver.major_function[IRP_MJ_PNP as usize] = Some(pnp);
        driver.major_function[IRP_MJ_POWER as usize] = Some(power);
        STATUS_SUCCESS
    }

    fn add_device(driver: &Driver, pdo: &DeviceObject) -> NtStatus {
        let fdo = match io_create_device(
            driver,
            Extension::default(),
            None,
            FILE_DEVICE_UNKNOWN,
            0,
            false,
        ) {
            Ok(fdo) => fdo,
            Err(status) => return status,
        };
        if let Some(next) = io_attach_device_to_device_stack(&fdo, pdo) {
            let _ = fdo.extension::<Extension>().next.set(next);
        }
        fdo.clear_flags(DO_DEVICE_INITIALIZING);
        STATUS_SUCCESS
    }

    fn next(fdo: &DeviceObject) -> DeviceObject {
        fdo.extension::<Extension>().next.get().cloned().expect("attached")
    }

    fn pnp(fdo: &DeviceObject, mut irp: Irp) -> NtStatus {
        let minor = io_get_current_irp_stack_location(&irp).minor_function;
        let next = next(fdo);
        io_skip_current_irp_stack_location(&mut irp);
        let status = io_call_driver(&next, irp);
        if minor == IRP_MN_REMOVE_DEVICE {
            io_detach_device(&next);
            io_delete_device(fdo);
        }
        status
    }

    fn power(fdo: &DeviceObject, mut irp: Irp) -> NtStatus {
        if io_get_current_irp_stack_location(&irp).minor_function == IRP_MN_WAIT_WAKE {
            io_mark_irp_pending(&mut irp);
            *fdo.extension::<Extension>().wait_wake.lock() = Some(irp);
            return STATUS_PENDING;
        }
        po_start_next_power_irp(&irp);
        io_skip_current_irp_stack_location(&mut irp);
        po_call_driver(&next(fdo), irp)
    }
}

/// A device armed with WAIT_WAKE (PoRequestPowerIrp: STATUS_PENDING) wakes
/// the sleeping system when it signals: its WAIT_WAKE completes, the
/// callback runs, and the power manager brings the system back to S0 with
/// SET_POWER(S0) and PBT_APMRESUMESUSPEND (book l.6980–6985).
#[test]
fn a_device_completing_wait_wake_wakes_the_sleeping_system() {
    let run = Machine::sim().processors(2).run(|| {
        let bench = Bench::install();
        let package = pnp::DriverPackage::new(
            "*toy\\waker",
            pnp::Service::new(waker::NAME, waker::driver_entry),
        );
        pnp::install(package);
        let node = pnp::add_root_device("*toy\\waker").expect("starts");
        let pdo = pnp::pdo(node).expect("a PDO");
        let fdo = top_of(node);
        let sleeping3 = PowerState::System(SystemPowerState::Sleeping3);
        let (armed, request) = request(&pdo, IRP_MN_WAIT_WAKE, sleeping3, 1);
        set_system_power_state(SystemPowerState::Sleeping3, PowerAction::Sleep).expect("sleeps");
        let asleep = system_power_state();
        // The device signals: the driver completes the WAIT_WAKE it kept.
        let mut wait_wake =
            fdo.extension::<waker::Extension>().wait_wake.lock().take().expect("WAIT_WAKE kept");
        *wait_wake.io_status_mut() = IoStatusBlock { status: STATUS_SUCCESS, information: 0 };
        io_complete_request(wait_wake, IO_NO_INCREMENT);
        ke_wait_for_single_object(&request.done, None);
        for _ in 0..100 {
            if system_power_state() == SystemPowerState::Working {
                break;
            }
            ke_delay_execution_thread(Interval::relative_ms(1));
        }
        let log = bench.log.lines();
        pnp::remove_device(node).expect("removal");
        (armed, asleep, system_power_state(), take_power_broadcasts(), log)
    });
    assert_eq!(
        run.value(),
        (
            STATUS_PENDING,
            SystemPowerState::Sleeping3,
            SystemPowerState::Working,
            vec![
                PowerBroadcast::QuerySuspend,
                PowerBroadcast::Suspend,
                PowerBroadcast::ResumeSuspend
            ],
            vec!["done S3 STATUS_SUCCESS".to_string()],
        )
    );
}
