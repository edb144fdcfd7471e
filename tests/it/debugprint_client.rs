//! The DebugPrint client library (spec 04 §1, INV-15..18; book
//! l.9150–9550) against a fake DebugPrint device: a driver in this file
//! that creates `\Device\PHDDebugPrint` and records every IRP it gets, and
//! can be left out or loaded late. Covers the wire record, order and
//! latency, the one open handle, drain and join at Close, the five-minute
//! open retry, IRQL rules, pool failures, the checked-build switch, and a
//! 100,000-call load in both machine modes.

use std::sync::Arc;

use crate::support::bug_check_of;
use wdmsim::ddk::*;
use wdmsim::drivers::debugprint::client::{
    ClientStatus, DebugPrint, DpArg, LOGGING_ENDED, LOGGING_STARTED, NO_BUFFER, format,
};
use wdmsim::drivers::debugprint::{DEVICE_NAME, record};
use wdmsim::sync::Mutex;
use wdmsim::trace::{Event as TraceEvent, Trace};
use wdmsim::{Machine, io};

const A: DebugPrint = DebugPrint::for_driver("DrvA");
const B: DebugPrint = DebugPrint::for_driver("DrvB");

/// 100 ns units per millisecond and per second.
const MS: u64 = 10_000;
const SECOND: u64 = 1_000 * MS;

/// One IRP the fake device received.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    Create,
    /// The bytes, the write's byte offset, and the system time it arrived.
    Write {
        bytes: Vec<u8>,
        offset: i64,
        at: u64,
    },
    Cleanup,
    Close,
}

/// The fake DebugPrint device's extension: what it was sent, in order.
#[derive(Default)]
struct FakeDebugPrint {
    seen: Mutex<Vec<Seen>>,
}

fn fake_entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
    for major in [IRP_MJ_CREATE, IRP_MJ_CLEANUP, IRP_MJ_CLOSE, IRP_MJ_WRITE] {
        driver.major_function[major as usize] = Some(fake_dispatch);
    }
    match io_create_device(
        driver.driver(),
        FakeDebugPrint::default(),
        Some(DEVICE_NAME),
        FILE_DEVICE_UNKNOWN,
        0,
        false,
    ) {
        Ok(device) => {
            device.set_flags(DO_BUFFERED_IO);
            STATUS_SUCCESS
        }
        Err(status) => status,
    }
}

/// Records the IRP and completes it: a write with all its bytes.
fn fake_dispatch(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let location = io_get_current_irp_stack_location(&irp);
    let (seen, information) = match (location.major_function, &location.parameters) {
        (IRP_MJ_CREATE, _) => (Seen::Create, 0),
        (IRP_MJ_CLEANUP, _) => (Seen::Cleanup, 0),
        (IRP_MJ_CLOSE, _) => (Seen::Close, 0),
        (_, Parameters::Write { length, byte_offset, .. }) => {
            let length = *length as usize;
            let bytes = irp.system_buffer().map_or(Vec::new(), |b| b[..length].to_vec());
            (Seen::Write { bytes, offset: *byte_offset, at: ke_query_system_time() }, length)
        }
        _ => panic!("the fake DebugPrint device got {location:?}"),
    };
    device.extension::<FakeDebugPrint>().seen.lock().push(seen);
    *irp.io_status_mut() = IoStatusBlock { status: STATUS_SUCCESS, information };
    io_complete_request(irp, IO_NO_INCREMENT);
    STATUS_SUCCESS
}

/// Loads the fake DebugPrint driver: `\Device\PHDDebugPrint` now exists.
fn load_fake() -> DeviceObject {
    let driver = io::load_driver("FakeDebugPrint", fake_entry).expect("DriverEntry");
    driver.devices().remove(0)
}

fn seen(device: &DeviceObject) -> Vec<Seen> {
    device.extension::<FakeDebugPrint>().seen.lock().clone()
}

/// A write as `driver: message` (decoded), other IRPs by name.
fn summary(seen: &[Seen]) -> Vec<String> {
    seen.iter()
        .map(|s| match s {
            Seen::Create => "CREATE".to_string(),
            Seen::Cleanup => "CLEANUP".to_string(),
            Seen::Close => "CLOSE".to_string(),
            Seen::Write { bytes, .. } => {
                let event = record::decode(bytes).expect("a whole record");
                format!("{}: {}", latin1(&event.driver), latin1(&event.message))
            }
        })
        .collect()
}

fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

/// The system time an event was stamped with (millisecond precision).
fn stamped_at(bytes: &[u8]) -> u64 {
    let event = record::decode(bytes).expect("a whole record");
    rtl_time_fields_to_time(&event.time).expect("valid time fields")
}

/// Sleeps the calling thread for `ms` milliseconds of virtual time.
fn sleep_ms(ms: u64) {
    ke_delay_execution_thread(Interval::relative_ms(ms));
}

/// The trace's DebugPrint client threads: (thread number, exit time).
fn client_thread_exits(trace: &Trace) -> Vec<(u32, Option<u64>)> {
    let created: Vec<u32> = trace
        .records()
        .iter()
        .filter_map(|r| match r.event {
            TraceEvent::ThreadCreate { thread }
                if trace.describe_thread(thread).ends_with("\"DebugPrint\"") =>
            {
                Some(thread)
            }
            _ => None,
        })
        .collect();
    created
        .into_iter()
        .map(|t| {
            let exit = trace.records().iter().find_map(|r| match r.event {
                TraceEvent::ThreadExit { thread } if thread == t => Some(r.at_ticks),
                _ => None,
            });
            (t, exit)
        })
        .collect()
}

/// The index of the first print whose text is `text`.
fn print_index(trace: &Trace, text: &str) -> usize {
    trace
        .records()
        .iter()
        .position(
            |r| matches!(r.event, TraceEvent::Print { text: t, .. } if trace.string(t) == text),
        )
        .unwrap_or_else(|| panic!("no print {text:?}"))
}

// ---------------------------------------------------------------------------
// The record, the handle, the order

/// One event is `16 + (name + 1) + (message + 1)` bytes: the GMT time of
/// the call from the simulated clock (2000-02-17, a Thursday), the name, the
/// message; written at offset 0, one write per event; Init and Close give
/// exactly one CREATE, then CLEANUP and CLOSE (INV-16, INV-17).
#[test]
fn an_event_is_the_call_time_the_name_and_the_message_in_one_write() {
    let run = Machine::sim().debug_print(true).run(|| {
        let device = load_fake();
        A.init();
        sleep_ms(3_723_250); // 01:02:03.250
        A.print(b"n=%d", &[DpArg::I32(5)]);
        sleep_ms(2_000);
        let before_close = seen(&device);
        A.close();
        (before_close, seen(&device), A.status())
    });
    let (before_close, after, status) = run.value();
    assert_eq!(status, ClientStatus::Inactive);
    assert_eq!(summary(&before_close), ["CREATE", "DrvA: DebugPrint logging started", "DrvA: n=5"]);
    assert_eq!(
        summary(&after),
        [
            "CREATE",
            "DrvA: DebugPrint logging started",
            "DrvA: n=5",
            "DrvA: DebugPrint logging ended",
            "CLEANUP",
            "CLOSE"
        ]
    );
    let Seen::Write { bytes, offset, at } = &after[2] else { panic!("a write: {after:?}") };
    let mut expected = vec![
        0xD0, 0x07, 2, 0, 17, 0, // 2000-02-17
        1, 0, 2, 0, 3, 0, // 01:02:03
        0xFA, 0, 4, 0, // .250, Thursday
    ];
    expected.extend_from_slice(b"DrvA\0n=5\0");
    assert_eq!(bytes, &expected);
    assert_eq!(bytes.len(), 16 + 5 + 4);
    assert_eq!(*offset, 0);
    // Written at the thread's next one-second wake-up, not at the call.
    let called = stamped_at(bytes);
    assert!(*at >= called && *at - called <= SECOND, "written {} ms late", (*at - called) / MS);
    let Seen::Write { bytes: started, .. } = &after[1] else { panic!("a write") };
    assert_eq!(started[..16], [0xD0, 0x07, 2, 0, 17, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0]);
    assert_eq!(&started[16..], b"DrvA\0DebugPrint logging started\0");
}

/// With tracing on, every call is also the run's print line, logging
/// messages included.
#[test]
fn every_trace_call_is_also_a_print_line() {
    let run = Machine::sim().debug_print(true).run(|| {
        load_fake();
        A.init();
        A.msg(b"plain\0 ignored after the NUL");
        A.print(b"%s=%x", &[DpArg::Str(b"code"), DpArg::U32(0x2A)]);
        A.print2(6, b"truncated", &[]);
        A.close();
    });
    assert!(run.is_ok(), "{}", run.report());
    assert_eq!(
        run.trace.prints(),
        [
            ("DrvA", "DebugPrint logging started"),
            ("DrvA", "plain"),
            ("DrvA", "code=0000002A"),
            ("DrvA", "trunc"),
            ("DrvA", "DebugPrint logging ended")
        ]
    );
}

/// A tracer thread: `count` calls for `dp`, every other one at
/// DISPATCH_LEVEL, with pauses so that the client thread's polls fall in
/// between.
fn tracer(dp: DebugPrint, tag: &'static [u8], count: i32) -> Thread {
    ps_create_system_thread(move || {
        for i in 0..count {
            if i % 2 == 1 {
                let old = ke_raise_irql(DISPATCH_LEVEL);
                dp.print(b"%s %d", &[DpArg::Str(tag), DpArg::I32(i)]);
                ke_lower_irql(old);
            } else {
                dp.print(b"%s %d", &[DpArg::Str(tag), DpArg::I32(i)]);
            }
            if i % 4 == 3 {
                sleep_ms(u64::from(i.unsigned_abs()) * 37 % 700);
            }
        }
    })
    .expect("a tracer thread")
}

/// What one client's writes must be: started, the tracer's lines, ended.
fn expected_lines(driver: &str, tag: &str, count: i32) -> Vec<String> {
    let mut lines = vec![format!("{driver}: DebugPrint logging started")];
    lines.extend((0..count).map(|i| format!("{driver}: {tag} {i}")));
    lines.push(format!("{driver}: DebugPrint logging ended"));
    lines
}

/// Two clients traced from two threads (at PASSIVE_LEVEL and
/// DISPATCH_LEVEL) and a DPC: each client's events reach the device in
/// call order, one write each, within a second of the call (INV-16); two
/// CREATEs, two CLEANUPs, two CLOSEs (INV-17). Many seeds, 2–4 processors.
#[test]
fn events_reach_the_device_in_call_order_within_a_second() {
    const COUNT: i32 = 24;
    let machines = (2..=4).flat_map(|processors| {
        let random = (0..30).map(move |seed| Machine::sim().processors(processors).seed(seed));
        let pct = (0..10).map(move |seed| Machine::sim().processors(processors).pct(3).seed(seed));
        random.chain(pct)
    });
    for machine in machines {
        let machine = machine.debug_print(true);
        let run = machine.run(|| {
            let device = load_fake();
            A.init();
            B.init();
            let dpc = Dpc::new(|_, n, _| B.print(b"dpc %d", &[DpArg::I32(n as i32)]));
            let a = tracer(A, b"a", COUNT);
            let b = tracer(B, b"b", COUNT);
            ke_wait_for_single_object(&a, None);
            ke_wait_for_single_object(&b, None);
            ke_insert_queue_dpc(&dpc, 7, 0);
            sleep_ms(1_500);
            A.close();
            B.close();
            seen(&device)
        });
        let seen = match &run.result {
            Ok(seen) => seen.clone(),
            Err(failure) => panic!("{failure:?}\n{}", machine.replay_line()),
        };
        let lines = summary(&seen);
        let of = |driver: &str| -> Vec<String> {
            lines.iter().filter(|l| l.starts_with(driver)).cloned().collect()
        };
        assert_eq!(of("DrvA"), expected_lines("DrvA", "a", COUNT), "{}", machine.replay_line());
        let mut b_lines = expected_lines("DrvB", "b", COUNT);
        b_lines.insert(b_lines.len() - 1, "DrvB: dpc 7".into());
        assert_eq!(of("DrvB"), b_lines, "{}", machine.replay_line());
        let count = |s: &Seen| seen.iter().filter(|x| *x == s).count();
        assert_eq!((count(&Seen::Create), count(&Seen::Cleanup), count(&Seen::Close)), (2, 2, 2));
        for s in &seen {
            if let Seen::Write { bytes, offset, at } = s {
                let event = record::decode(bytes).expect("a whole record");
                assert_eq!(bytes.len(), 16 + event.driver.len() + 1 + event.message.len() + 1);
                assert_eq!(*offset, 0);
                let called = stamped_at(bytes);
                assert!(*at >= called && *at - called <= SECOND, "{}", machine.replay_line());
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Close: drain and join

/// Everything queued before Close is written, "DebugPrint logging ended"
/// last, and the handle is closed before Close returns; the client thread
/// has ended by then (INV-18, PORT DEVIATIONs drain-on-exit and join).
/// Traces made just before Close, from other processors, at DISPATCH_LEVEL.
#[test]
fn close_writes_everything_queued_before_it_and_joins_the_thread() {
    for processors in 2..=4 {
        for seed in 0..40 {
            let machine = Machine::sim().debug_print(true).processors(processors).seed(seed);
            let run = machine.run(move || {
                let device = load_fake();
                A.init();
                let tracers: Vec<Thread> = (0..processors)
                    .map(|n| {
                        ps_create_system_thread(move || {
                            let old = ke_raise_irql(DISPATCH_LEVEL);
                            A.print(b"last %u", &[DpArg::U32(n)]);
                            ke_lower_irql(old);
                        })
                        .expect("a thread")
                    })
                    .collect();
                for t in &tracers {
                    ke_wait_for_single_object(t, None);
                }
                A.close();
                dbg_print("test", format_args!("closed"));
                let after = seen(&device);
                A.msg(b"after close");
                sleep_ms(2_000);
                (after, seen(&device), A.status())
            });
            let (at_close, later, status) = match &run.result {
                Ok(v) => v.clone(),
                Err(failure) => panic!("{failure:?}\n{}", machine.replay_line()),
            };
            let lines = summary(&at_close);
            assert_eq!(lines.len(), 2 + processors as usize + 3, "{lines:?}");
            assert_eq!(lines[..2], ["CREATE", "DrvA: DebugPrint logging started"]);
            let mut lasts: Vec<&String> = lines[2..2 + processors as usize].iter().collect();
            lasts.sort();
            let wanted: Vec<String> = (0..processors).map(|n| format!("DrvA: last {n}")).collect();
            assert_eq!(lasts, wanted.iter().collect::<Vec<_>>());
            assert_eq!(
                lines[lines.len() - 3..],
                ["DrvA: DebugPrint logging ended", "CLEANUP", "CLOSE"]
            );
            assert_eq!(later, at_close, "a trace call after Close is a no-op");
            assert_eq!(status, ClientStatus::Inactive);
            let exits = client_thread_exits(&run.trace);
            assert_eq!(exits.len(), 1);
            let exit_index = run
                .trace
                .records()
                .iter()
                .position(|r| r.event == TraceEvent::ThreadExit { thread: exits[0].0 })
                .expect("the client thread ended");
            assert!(exit_index < print_index(&run.trace, "closed"), "joined before Close returned");
        }
    }
}

// ---------------------------------------------------------------------------
// The DebugPrint driver absent

/// Loads the fake device at `appear_ms` (or never) after Init and a trace
/// at 0, 10 and 30 s; returns what it saw by 330 s, when the CREATE came,
/// the client status then and the trace.
fn device_appearing_at(appear_ms: Option<u64>) -> (Vec<Seen>, ClientStatus, Trace) {
    let run = Machine::sim().debug_print(true).run(move || {
        A.init();
        let mut device = None;
        let mut now_ms = 0;
        for (at_ms, i) in [(0, 0), (10_000, 1), (30_000, 2)] {
            if let Some(appear) = appear_ms.filter(|a| (now_ms..at_ms).contains(a)) {
                sleep_ms(appear - now_ms);
                now_ms = appear;
                device = Some(load_fake());
            }
            sleep_ms(at_ms - now_ms);
            now_ms = at_ms;
            A.print(b"queued %d", &[DpArg::I32(i)]);
        }
        if let Some(appear) = appear_ms.filter(|a| *a >= now_ms) {
            sleep_ms(appear - now_ms);
            now_ms = appear;
            device = Some(load_fake());
        }
        sleep_ms(330_000 - now_ms);
        let status = A.status();
        (device.map_or(Vec::new(), |d| seen(&d)), status)
    });
    let trace = run.trace.clone();
    let (seen, status) = run.value();
    (seen, status, trace)
}

/// The open is tried at t = 0, 20, …, 280 s: a device that appears just
/// before one of those times is opened at it, with every event queued so
/// far written then, oldest first, with its original time stamp.
#[test]
fn the_open_is_retried_every_20_s_and_finds_a_device_that_appears_late() {
    for (appear_ms, opened_s) in
        [(500, 20), (19_999, 20), (20_001, 40), (45_000, 60), (279_500, 280)]
    {
        let (seen, status, _) = device_appearing_at(Some(appear_ms));
        assert_eq!(status, ClientStatus::Started, "appearing at {appear_ms} ms");
        assert_eq!(
            summary(&seen),
            [
                "CREATE",
                "DrvA: DebugPrint logging started",
                "DrvA: queued 0",
                "DrvA: queued 1",
                "DrvA: queued 2"
            ],
            "appearing at {appear_ms} ms"
        );
        let stamps: Vec<u64> = seen[1..]
            .iter()
            .map(|s| match s {
                Seen::Write { bytes, .. } => stamped_at(bytes),
                other => panic!("{other:?}"),
            })
            .collect();
        let boot = stamps[0];
        let relative: Vec<u64> = stamps.iter().map(|s| (s - boot) / SECOND).collect();
        // "queued 1" and "queued 2" were made after a device that appeared
        // before them was open: still their own call times.
        assert_eq!(relative, [0, 0, 10, 30], "appearing at {appear_ms} ms");
        // Events queued before the open went out at the open's wake-up;
        // later ones within a second of their call.
        for s in &seen[1..] {
            if let Seen::Write { bytes, at, .. } = s {
                let written_s = (at - boot) / SECOND;
                let called_s = (stamped_at(bytes) - boot) / SECOND;
                let expected = if called_s < opened_s { opened_s + 1 } else { called_s + 1 };
                assert!(written_s <= expected, "appearing at {appear_ms} ms: {written_s} s");
                assert!(written_s >= opened_s, "appearing at {appear_ms} ms: {written_s} s");
            }
        }
    }
}

/// Absent for the whole five minutes: the thread gives up at 300 s, frees
/// what was queued and ends; the client is stopped, later trace calls
/// allocate nothing, and a device that appears afterwards is never opened.
#[test]
fn without_the_device_the_thread_gives_up_at_300_s() {
    let (seen, status, trace) = device_appearing_at(Some(300_500));
    assert_eq!(status, ClientStatus::Stopped);
    assert_eq!(seen, [], "never opened");
    let exits = client_thread_exits(&trace);
    assert_eq!(exits.len(), 1);
    let exited = exits[0].1.expect("the thread ended");
    assert_eq!(exited / SECOND, 300, "gave up at 300 s");

    let (seen, status, _) = device_appearing_at(Some(280_500));
    assert_eq!(status, ClientStatus::Stopped, "the attempt at 280 s was the last");
    assert_eq!(seen, []);

    let run = Machine::sim().debug_print(true).run(|| {
        A.init();
        sleep_ms(301_000);
        // A trace call now costs nothing: the armed failure is still there
        // for the next allocation.
        wdmsim::ex::fail_next_allocations(1);
        A.msg(b"after the give-up");
        A.print(b"%d", &[DpArg::I32(1)]);
        let next = ex_allocate_pool(PoolType::NonPagedPool, 8);
        let status = A.status();
        A.close();
        (next.is_none(), status, A.status())
    });
    assert_eq!(run.value(), (true, ClientStatus::Stopped, ClientStatus::Inactive));
}

/// Close during the retry window: the thread sees ExitNow at once (it is
/// checked every second), so Close returns without virtual time passing.
#[test]
fn close_during_the_retry_window_returns_within_a_second() {
    let run = Machine::sim().debug_print(true).processors(2).run(|| {
        A.init();
        sleep_ms(30_500);
        A.msg(b"never written");
        let before = ke_query_system_time();
        A.close();
        let after = ke_query_system_time();
        (after - before, A.status())
    });
    let exits = client_thread_exits(&run.trace);
    let (took, status) = run.value();
    assert!(took <= SECOND, "Close took {} ms", took / MS);
    assert_eq!(status, ClientStatus::Inactive);
    assert_eq!(exits.len(), 1);
    assert_eq!(exits[0].1.map(|t| t / SECOND), Some(30));
}

/// The client thread is a background thread: a run ends by itself with it
/// waiting, with the device open or with the open still being retried.
#[test]
fn a_run_ends_by_itself_with_the_client_thread_waiting() {
    let run = Machine::sim().debug_print(true).run(|| {
        let device = load_fake();
        A.init();
        A.msg(b"still open");
        sleep_ms(1_500);
        device
    });
    assert!(run.is_ok(), "{}", run.report());
    let device = run.value();
    let seen = seen(&device);
    assert_eq!(summary(&seen), ["CREATE", "DrvA: DebugPrint logging started", "DrvA: still open"]);

    let run = Machine::sim().debug_print(true).run(|| {
        A.init();
        A.status()
    });
    assert_eq!(run.value(), ClientStatus::Started);
}

// ---------------------------------------------------------------------------
// IRQL

/// A trace call at DISPATCH_LEVEL works; above it (an ISR's DIRQL) it is
/// bug check 0x121 (DRIVER_VIOLATION, a call above its IRQL limit) from the
/// call's first check, before anything is stamped, allocated or queued.
#[test]
fn a_trace_above_dispatch_level_is_a_bug_check() {
    let run = Machine::sim().debug_print(true).run(|| {
        let device = load_fake();
        A.init();
        let old = ke_raise_irql(DISPATCH_LEVEL);
        A.print(b"at %s", &[DpArg::Str(b"DISPATCH_LEVEL")]);
        ke_lower_irql(old);
        A.close();
        summary(&seen(&device))
    });
    assert_eq!(run.value()[2], "DrvA: at DISPATCH_LEVEL");

    for (call, trace) in [
        ("DebugPrintMsg", (|| A.msg(b"in an ISR")) as fn()),
        ("DebugPrint", || A.print(b"in an ISR", &[])),
        ("DebugPrint", || A.print2(10, b"in an ISR", &[])),
    ] {
        let run = Machine::sim().debug_print(true).run(move || {
            load_fake();
            A.init();
            ke_raise_irql(Irql(20));
            trace();
        });
        let check = bug_check_of(&run);
        assert_eq!((check.code, check.params), (0x121, [2, 20, 2, 0]), "{check}");
        assert_eq!(
            check.message,
            format!("{call} called at DIRQL 20; its limit is DISPATCH_LEVEL")
        );
        let prints: Vec<&str> = run.trace.prints().iter().map(|(_, t)| *t).collect();
        assert_eq!(prints, ["DebugPrint logging started"], "the refused call showed nothing");
    }
}

/// DebugPrintInit and DebugPrintClose are PASSIVE_LEVEL calls.
#[test]
fn init_or_close_above_passive_level_is_a_bug_check() {
    let run = Machine::sim().debug_print(true).run(|| {
        ke_raise_irql(DISPATCH_LEVEL);
        A.init();
    });
    let check = bug_check_of(&run);
    assert_eq!((check.code, check.params), (0x121, [2, 2, 0, 0]), "{check}");
    assert!(client_thread_exits(&run.trace).is_empty(), "no thread started");

    let run = Machine::sim().debug_print(true).run(|| {
        A.init();
        ke_raise_irql(APC_LEVEL);
        A.close();
    });
    let check = bug_check_of(&run);
    assert_eq!((check.code, check.params), (0x121, [2, 1, 0, 0]), "{check}");
    assert_eq!(check.message, "DebugPrintClose called at APC_LEVEL; its limit is PASSIVE_LEVEL");
}

// ---------------------------------------------------------------------------
// Pool failures and the free build

/// Every allocation goes through the pool: the formatting buffer (its
/// failure logs "DebugPrint: Could not allocate buffer"), each event (its
/// failure drops the event), and the name copy (its failure leaves the
/// client not started). One processor, so the client thread cannot take
/// the injected failure first.
#[test]
fn allocation_failures_drop_events_or_log_the_buffer_message() {
    let run = Machine::sim().debug_print(true).processors(1).run(|| {
        let device = load_fake();
        A.init();
        wdmsim::ex::fail_next_allocations(1);
        A.print(b"buffer %d", &[DpArg::I32(1)]);
        wdmsim::ex::fail_next_allocations(1);
        A.msg(b"event lost");
        wdmsim::ex::fail_next_allocations(2);
        A.print(b"both %d", &[DpArg::I32(2)]);
        A.msg(b"fine");
        A.close();
        summary(&seen(&device))
    });
    let prints: Vec<String> = run.trace.prints().iter().map(|(_, t)| t.to_string()).collect();
    assert_eq!(
        run.value(),
        [
            "CREATE",
            "DrvA: DebugPrint logging started",
            "DrvA: DebugPrint: Could not allocate buffer",
            "DrvA: fine",
            "DrvA: DebugPrint logging ended",
            "CLEANUP",
            "CLOSE"
        ]
    );
    assert_eq!(
        prints,
        [
            "DebugPrint logging started",
            latin1(NO_BUFFER).as_str(),
            "event lost",
            latin1(NO_BUFFER).as_str(),
            "fine",
            "DebugPrint logging ended"
        ]
    );

    let run = Machine::sim().debug_print(true).processors(1).run(|| {
        let device = load_fake();
        wdmsim::ex::fail_next_allocations(1);
        A.init();
        A.msg(b"not started");
        sleep_ms(2_000);
        (A.status(), seen(&device))
    });
    assert!(client_thread_exits(&run.trace).is_empty(), "no thread");
    assert_eq!(run.value(), (ClientStatus::Inactive, vec![]));
}

/// `debug_print(false)` is the free build: no thread, no allocation, no
/// IRP; the lines still show as prints.
#[test]
fn without_debug_print_no_thread_and_no_irp() {
    let run = Machine::sim().run(|| {
        let device = load_fake();
        A.init();
        wdmsim::ex::fail_next_allocations(1);
        A.print(b"free %d", &[DpArg::I32(1)]);
        A.msg(b"build");
        let next = ex_allocate_pool(PoolType::NonPagedPool, 8);
        let status = A.status();
        A.close();
        sleep_ms(2_000);
        (next.is_none(), status, seen(&device))
    });
    assert!(client_thread_exits(&run.trace).is_empty(), "no client thread");
    assert_eq!(run.trace.prints(), [("DrvA", "free 1"), ("DrvA", "build")]);
    assert_eq!(run.value(), (true, ClientStatus::Inactive, vec![]));
}

// ---------------------------------------------------------------------------
// %I, which needs IRPs

/// `%I` names the current location's codes (spec 04 §1.4): PnP, power and
/// WMI minors, the relation type of a relations query, the kind and state
/// of a power SET or QUERY; an unknown PnP minor in hex, an unknown major
/// as nothing.
#[test]
fn percent_i_prints_the_irps_codes() {
    let run = Machine::sim().run(|| {
        let mut irp = io_allocate_irp(1, false).expect("an IRP");
        let mut shown = Vec::new();
        let cases = [
            (IRP_MJ_READ, 0, Parameters::None),
            (IRP_MJ_PNP, IRP_MN_START_DEVICE, Parameters::None),
            (
                IRP_MJ_PNP,
                IRP_MN_QUERY_DEVICE_RELATIONS,
                Parameters::QueryDeviceRelations {
                    relation_type: DeviceRelationType::RemovalRelations,
                },
            ),
            (IRP_MJ_PNP, 0x0E, Parameters::None),
            (IRP_MJ_PNP, 0x30, Parameters::None),
            (
                IRP_MJ_POWER,
                IRP_MN_SET_POWER,
                Parameters::Power {
                    state: PowerState::System(SystemPowerState::Hibernate),
                    shutdown_type: PowerAction::Hibernate,
                },
            ),
            (
                IRP_MJ_POWER,
                IRP_MN_QUERY_POWER,
                Parameters::Power {
                    state: PowerState::Device(DevicePowerState::D2),
                    shutdown_type: PowerAction::None,
                },
            ),
            (IRP_MJ_POWER, IRP_MN_SET_POWER, Parameters::None),
            (IRP_MJ_POWER, IRP_MN_WAIT_WAKE, Parameters::None),
            (IRP_MJ_POWER, 0x07, Parameters::None),
            (IRP_MJ_SYSTEM_CONTROL, 0x01, Parameters::None),
            (IRP_MJ_SYSTEM_CONTROL, 0x09, Parameters::None),
            (IRP_MJ_SYSTEM_CONTROL, 0x20, Parameters::None),
            (0x40, 0, Parameters::None),
        ];
        for (major, minor, parameters) in cases {
            let location = irp.current_stack_location_mut();
            location.major_function = major;
            location.minor_function = minor;
            location.parameters = parameters;
            let mut buffer = [0u8; 100];
            let len = format(&mut buffer, b"[%I]", &[DpArg::Irp(&irp)]);
            shown.push(latin1(&buffer[..len]));
        }
        io_free_irp(irp);
        shown
    });
    assert_eq!(
        run.value(),
        [
            "[IRP_MJ_READ]",
            "[IRP_MJ_PNP:IRP_MN_START_DEVICE]",
            "[IRP_MJ_PNP:IRP_MN_QUERY_DEVICE_RELATIONS RemovalRelations]",
            "[IRP_MJ_PNP:IRP_MN_0E]",
            "[IRP_MJ_PNP:00000030]",
            "[IRP_MJ_POWER:IRP_MN_SET_POWER Set Power PowerSystemHibernate]",
            "[IRP_MJ_POWER:IRP_MN_QUERY_POWER Query Power PowerDeviceD2]",
            "[IRP_MJ_POWER:IRP_MN_SET_POWER Set Power]",
            "[IRP_MJ_POWER:IRP_MN_WAIT_WAKE]",
            "[IRP_MJ_POWER]",
            "[IRP_MJ_SYSTEM_CONTROL:IRP_MN_QUERY_SINGLE_INSTANCE]",
            "[IRP_MJ_SYSTEM_CONTROL:IRP_MN_EXECUTE_METHOD]",
            "[IRP_MJ_SYSTEM_CONTROL]",
            "[]"
        ]
    );
}

// ---------------------------------------------------------------------------
// Wdm1 through DebugPrint: the book's Monitor lines

/// The checked Wdm1 with DebugPrint running, then Wdm1Test: the device
/// gets the lines of the book's Listing 7.1 (l.4448–4523), all stamped in
/// the same second, "DebugPrint logging started" first and "ended" at the
/// driver's unload.
#[test]
fn the_checked_wdm1_writes_the_books_monitor_lines() {
    use wdmsim::apps::{Console, wdm1_test};
    use wdmsim::drivers::wdm1;
    use wdmsim::pnp;
    let run = Machine::sim().debug_print(true).processors(2).run(|| {
        let device = load_fake();
        pnp::install(wdm1::package());
        let node = pnp::add_root_device(wdm1::HARDWARE_ID).expect("start");
        let (mut out, mut input) = (Vec::new(), &b"\n"[..]);
        assert_eq!(wdm1_test::main(&mut Console::new(&mut out, &mut input)), 0);
        pnp::remove_device(node).expect("removal");
        seen(&device)
    });
    let seen = run.value_ref();
    let lines = summary(seen);
    let wdm1_lines: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("Wdm1: ")).collect();
    assert_eq!(lines.first().map(String::as_str), Some("CREATE"));
    assert_eq!(lines[lines.len() - 2..], ["CLEANUP", "CLOSE"]);
    assert_eq!(wdm1_lines.len(), lines.len() - 3, "every write is Wdm1's");
    assert_eq!(
        wdm1_lines[..6],
        [
            "DebugPrint logging started",
            r"RegistryPath is \REGISTRY\Machine\System\CurrentControlSet\Services\Wdm1",
            "DriverEntry completed",
            "AddDevice",
            "FDO is 80AAB0A0",
            r"Symbolic Link Name is \??\Root#UNKNOWN#0000#{c0cf0640-5f6e-11d2-b677-00c0dfe4c1f3}",
        ]
    );
    let from = wdm1_lines.iter().position(|l| *l == "Create File is ").expect("Wdm1Test ran");
    assert_eq!(
        wdm1_lines[from..from + 11],
        [
            "Create File is ",
            "Read 4 bytes from file pointer 0",
            "Read: 0 bytes returned",
            "Write 4 bytes from file pointer 0",
            "Write: 4 bytes written",
            "Read 1 bytes from file pointer 3",
            "Read: 1 bytes returned",
            "Write 4 bytes from file pointer 3",
            "Write: 4 bytes written",
            "DeviceIoControl: Control code 0022200C InputLength 0 OutputLength 4",
            "DeviceIoControl: 4 bytes written",
        ]
    );
    assert_eq!(
        wdm1_lines[wdm1_lines.len() - 5..],
        [
            "PnP IRP_MJ_PNP:IRP_MN_QUERY_REMOVE_DEVICE",
            "PnP IRP_MJ_PNP:IRP_MN_REMOVE_DEVICE",
            "PnP RemoveDevice",
            "Wdm1Unload",
            "DebugPrint logging ended",
        ]
    );
    let seconds: Vec<u64> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Write { bytes, .. } => Some(stamped_at(bytes) / SECOND),
            _ => None,
        })
        .collect();
    assert!(seconds.iter().all(|s| *s == seconds[0]), "all in one second");
    // The run's print lines are the same text.
    let prints: Vec<&str> = run.trace.prints().iter().map(|(_, t)| *t).collect();
    assert_eq!(prints, wdm1_lines);
}

/// The checked Wdm2: every line it traces (its PnP handlers, its
/// resources and power state, a read) reaches the device, in order, as the
/// run's print lines show them.
#[test]
fn the_checked_wdm2_writes_every_line_it_traces() {
    use wdmsim::drivers::wdm2;
    use wdmsim::pnp;
    use wdmsim::win32::*;
    let run = Machine::sim().debug_print(true).processors(2).run(|| {
        let device = load_fake();
        pnp::install(wdm2::package());
        let node = pnp::add_root_device(wdm2::HARDWARE_ID).expect("start");
        let link = io::get_device_interfaces(&wdm2::WDM2_GUID).remove(0);
        let h = create_file(&io::device_path(&link), GENERIC_READ, 0, OPEN_EXISTING, 0);
        let (mut buffer, mut n) = ([0u8; 4], 0);
        assert!(read_file(h, &mut buffer, 4, &mut n));
        assert!(close_handle(h));
        pnp::remove_device(node).expect("removal");
        seen(&device)
    });
    let seen = run.value_ref();
    let lines = summary(seen);
    let wdm2_lines: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("Wdm2: ")).collect();
    assert_eq!(wdm2_lines.len(), lines.len() - 3, "every write is Wdm2's: {lines:?}");
    assert_eq!(wdm2_lines.first(), Some(&"DebugPrint logging started"));
    assert_eq!(wdm2_lines[wdm2_lines.len() - 2..], ["Wdm2Unload", "DebugPrint logging ended"]);
    assert!(wdm2_lines.contains(&"PnP IRP_MJ_PNP:IRP_MN_QUERY_DEVICE_RELATIONS BusRelations"));
    assert!(wdm2_lines.contains(&"Read 4 bytes from file pointer 0"));
    let prints: Vec<&str> = run.trace.prints().iter().map(|(_, t)| *t).collect();
    assert_eq!(prints, wdm2_lines);
}

// ---------------------------------------------------------------------------
// Load

/// The drivers of the load tests (here and in debugprint_monitor.rs).
pub(super) static LOAD_DRIVERS: [DebugPrint; 4] = [
    DebugPrint::for_driver("Load0"),
    DebugPrint::for_driver("Load1"),
    DebugPrint::for_driver("Load2"),
    DebugPrint::for_driver("Load3"),
];

/// One thread per load driver (its client started), each making
/// `per_driver` trace calls "0", "1", …, alternately at DISPATCH_LEVEL and
/// PASSIVE_LEVEL, pausing `pause_ms` after every `pause_every` calls so the
/// client threads' drains fall in between.
pub(super) fn start_tracers(per_driver: u32, pause_every: u32, pause_ms: u64) -> Vec<Thread> {
    LOAD_DRIVERS
        .iter()
        .map(|dp| {
            ps_create_system_thread(move || {
                for i in 0..per_driver {
                    if i % 2 == 0 {
                        let old = ke_raise_irql(DISPATCH_LEVEL);
                        dp.print(b"%u", &[DpArg::U32(i)]);
                        ke_lower_irql(old);
                    } else {
                        dp.print(b"%u", &[DpArg::U32(i)]);
                    }
                    if i % pause_every == pause_every - 1 && pause_ms > 0 {
                        sleep_ms(pause_ms);
                    }
                }
            })
            .expect("a tracing thread")
        })
        .collect()
}

/// The load drivers, each with its own client, traced by one thread each
/// (pausing `pause_ms` every 500 calls): `per_driver` calls each, none
/// lost, each driver's in order. Returns how many writes the device got.
fn load(per_driver: u32, pause_ms: u64) -> usize {
    let drivers = &LOAD_DRIVERS;
    let device = load_fake();
    for dp in drivers {
        dp.init();
    }
    let threads = start_tracers(per_driver, 500, pause_ms);
    for t in &threads {
        ke_wait_for_single_object(t, None);
    }
    for dp in drivers {
        dp.close();
    }
    let seen = seen(&device);
    let mut next = vec![0u32; drivers.len()];
    for s in &seen {
        let Seen::Write { bytes, .. } = s else { continue };
        let event = record::decode(bytes).expect("a whole record");
        let d = drivers
            .iter()
            .position(|dp| dp.name().as_bytes() == event.driver)
            .expect("a known driver");
        let message = latin1(&event.message);
        if message == latin1(LOGGING_STARTED) || message == latin1(LOGGING_ENDED) {
            continue;
        }
        assert_eq!(message, next[d].to_string(), "{} in order", drivers[d].name());
        next[d] += 1;
    }
    assert!(next.iter().all(|n| *n == per_driver), "none lost: {next:?}");
    seen.iter().filter(|s| matches!(s, Seen::Write { .. })).count()
}

/// 100,000 trace calls from four drivers in a simulation: 5 s of virtual
/// time, so each client thread drains about five times during the load.
#[test]
fn a_hundred_thousand_trace_calls_in_a_simulation() {
    let machine = Machine::sim().debug_print(true).processors(2).trace(false).steps_max(u64::MAX);
    let run = machine.run(|| load(25_000, 100));
    assert_eq!(run.value(), 100_000 + 8);
}

/// The same load on real threads (a soak test): the pauses make it last
/// about two seconds, so the client threads' one-second polls drain while
/// the tracers run.
#[test]
fn a_hundred_thousand_trace_calls_on_real_threads() {
    let run = Machine::threaded().debug_print(true).processors(4).run(|| load(25_000, 30));
    assert_eq!(run.value(), 100_000 + 8);
}

/// Each machine loads its own copy of a driver, so two machines never
/// share a client: the second starts inactive again.
#[test]
fn each_machine_has_its_own_client() {
    let outer = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..2 {
        let log = outer.clone();
        let run = Machine::sim().debug_print(true).run(move || {
            log.lock().push(A.status());
            A.init();
            log.lock().push(A.status());
        });
        assert!(run.is_ok(), "{}", run.report());
    }
    assert_eq!(
        *outer.lock(),
        [
            ClientStatus::Inactive,
            ClientStatus::Started,
            ClientStatus::Inactive,
            ClientStatus::Started
        ]
    );
}
