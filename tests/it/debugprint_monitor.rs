//! The DebugPrint Monitor against the real DebugPrint driver and the checked
//! Wdm1 (spec 04 §3 and the book procedures of §5.1–5.4): the rows of the
//! book's Listing 7.1, a second Monitor, a Monitor that exits, the driver
//! dependency, a traced driver loaded before DebugPrint, and 100,000 trace
//! calls from several drivers while a Monitor reads. Each procedure runs
//! under several seeds on 2 to 4 processors.

use crate::debugprint_client::{LOAD_DRIVERS, start_tracers};
use wdmsim::apps::debugprint_monitor::{Document, Monitor, MonitorOptions, Row};
use wdmsim::apps::{Console, wdm1_test};
use wdmsim::ddk::*;
use wdmsim::drivers::debugprint::client::{ClientStatus, DebugPrint, DpArg};
use wdmsim::drivers::debugprint::{self, DebugPrintDeviceExtension, DebugPrintState};
use wdmsim::drivers::wdm1;
use wdmsim::pnp::{self, DeviceNode, PnpError, VetoType};
use wdmsim::trace::{Event as TraceEvent, Trace};
use wdmsim::win32::{get_tick_count, sleep};
use wdmsim::{Machine, Run};

/// Seeds per processor count.
const SEEDS: u64 = 4;

/// The Monitor's first row (book l.4448).
const LISTENING: &str = "Version 1.02 starting to listen under Windows 2000 (5.0 build 1877)";

/// The book's machine was at UTC+11:59 for this test: the simulated clock
/// boots at 00:00:00 UTC, so the times of Listing 7.1 come out as the book
/// prints them.
const BOOK_OFFSET_MINUTES: i32 = 11 * 60 + 59;

/// Runs `scenario` with DebugPrint on, under [`SEEDS`] seeds on 2, 3 and 4
/// processors; every run must succeed without verifier warnings, and all
/// must give the same value but for Wdm1's FDO address (the order in which
/// threads create objects varies with the interleaving).
fn each_run<T: std::fmt::Debug + 'static>(scenario: impl Fn() -> T + Clone + 'static) -> Run<T> {
    let mut first: Option<(Run<T>, String)> = None;
    for processors in 2..=4 {
        for seed in 0..SEEDS {
            let machine = Machine::sim().debug_print(true).processors(processors).seed(seed);
            let run = machine.run(scenario.clone());
            assert!(run.is_ok(), "{}", run.report());
            assert!(run.warnings.is_empty(), "{:?}", run.warnings);
            assert_eq!(unfinished_irps(&run.trace), [], "{}", run.replay);
            let value = mask_fdo(&format!("{:?}", run.value_ref()));
            match &first {
                Some((_, first)) => assert_eq!(&value, first, "{}", run.replay),
                None => first = Some((run, value)),
            }
        }
    }
    first.expect("at least one run").0
}

/// The IRPs of `trace` that were sent and never completed: none, after a
/// scenario has stopped its Monitor and closed its clients.
fn unfinished_irps(trace: &Trace) -> Vec<u32> {
    let mut sent = std::collections::BTreeSet::new();
    for record in trace.records() {
        match record.event {
            TraceEvent::IrpCall { irp, .. } => {
                sent.insert(irp);
            }
            TraceEvent::IrpDone { irp, .. } => {
                sent.remove(&irp);
            }
            _ => {}
        }
    }
    sent.into_iter().collect()
}

/// `text` with the address after each "FDO is " (8 upper-case hex digits,
/// spec 04 §5.1) replaced by `########`.
fn mask_fdo(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("FDO is ") {
        let (before, after) = rest.split_at(at + "FDO is ".len());
        let address = after.get(..8).expect("an address");
        assert!(address.chars().all(|c| matches!(c, '0'..='9' | 'A'..='F')), "{address}");
        out.push_str(before);
        out.push_str("########");
        rest = &after[8..];
    }
    out.push_str(rest);
    out
}

/// Sleeps until `seconds` after boot (virtual time costs nothing).
fn at(seconds: u32) {
    let now = get_tick_count();
    let then = seconds * 1000;
    assert!(now <= then, "{now} ms is already past {seconds} s");
    sleep(then - now);
}

fn book_monitor() -> Monitor {
    Monitor::start(MonitorOptions { utc_offset_minutes: BOOK_OFFSET_MINUTES, ..Default::default() })
}

fn monitor() -> Monitor {
    Monitor::start(MonitorOptions::default())
}

fn add_debugprint() -> DeviceNode {
    pnp::install(debugprint::package());
    pnp::add_root_device(debugprint::HARDWARE_ID).expect("the DebugPrint device starts")
}

fn add_wdm1() -> DeviceNode {
    pnp::install(wdm1::package());
    pnp::add_root_device(wdm1::HARDWARE_ID).expect("the Wdm1 device starts")
}

fn run_wdm1_test() {
    let (mut out, mut input) = (Vec::new(), &b"\n"[..]);
    assert_eq!(wdm1_test::main(&mut Console::new(&mut out, &mut input)), 0);
}

fn debugprint_state(node: DeviceNode) -> DebugPrintState {
    let pdo = pnp::pdo(node).expect("a PDO");
    wdmsim::io::get_attached_device(&pdo).extension::<DebugPrintDeviceExtension>().state()
}

/// `driver time message` lines, as Listing 7.1 prints rows.
fn lines(rows: &[Row]) -> Vec<String> {
    rows.iter().map(|r| format!("{} {} {}", r.driver, r.time, r.message)).collect()
}

/// The messages of `driver`'s rows.
fn messages(document: &Document, driver: &str) -> Vec<String> {
    document.filtered(&[driver]).into_iter().map(|r| r.message).collect()
}

// ---------------------------------------------------------------------------
// §5.1: watch a driver

/// Listing 7.1 (book l.4448–4523) as the book prints it, but for three
/// values of the book's machine: the registry path
/// (`ControlSet002\SERVICES\Wdml` there, with a scanning error), the FDO's
/// address (`80AAB020` there, masked here) and the device instance
/// (`#0003#` there, a fourth root device).
const LISTING_7_1: &str = r"Monitor 12:03:04 Version 1.02 starting to listen under Windows 2000 (5.0 build 1877)
DebugPrint 11:59:09 Version 1.02 started
Wdm1 12:00:42 DebugPrint logging started
Wdm1 12:00:42 RegistryPath is \REGISTRY\Machine\System\CurrentControlSet\Services\Wdm1
Wdm1 12:00:42 DriverEntry completed
Wdm1 12:00:42 AddDevice
Wdm1 12:00:42 FDO is ########
Wdm1 12:00:42 Symbolic Link Name is \??\Root#UNKNOWN#0001#{c0cf0640-5f6e-11d2-b677-00c0dfe4c1f3}
Wdm1 12:10:14 Create File is 
Wdm1 12:10:14 Read 4 bytes from file pointer 0
Wdm1 12:10:14 Read: 4 bytes returned
Wdm1 12:10:14 Write 4 bytes from file pointer 0
Wdm1 12:10:14 Write: 4 bytes written
Wdm1 12:10:14 Read 1 bytes from file pointer 3
Wdm1 12:10:14 Read: 1 bytes returned
Wdm1 12:10:14 Write 4 bytes from file pointer 3
Wdm1 12:10:14 Write: 4 bytes written
Wdm1 12:10:14 DeviceIoControl: Control code 0022200C InputLength 0 OutputLength 4
Wdm1 12:10:14 DeviceIoControl: 4 bytes written
Wdm1 12:10:14 DeviceIoControl: Control code 00222010 InputLength 0 OutputLength 7
Wdm1 12:10:14 DeviceIoControl: 7 bytes written
Wdm1 12:10:14 DeviceIoControl: Control code 00222010 InputLength 0 OutputLength 8
Wdm1 12:10:14 DeviceIoControl: 0 bytes written
Wdm1 12:10:14 DeviceIoControl: Control code 00222004 InputLength 0 OutputLength 0
Wdm1 12:10:14 DeviceIoControl: 0 bytes written
Wdm1 12:10:14 DeviceIoControl: Control code 00222010 InputLength 0 OutputLength 7
Wdm1 12:10:14 DeviceIoControl: 7 bytes written
Wdm1 12:10:14 DeviceIoControl: Control code 00222008 InputLength 0 OutputLength 0
Wdm1 12:10:14 DeviceIoControl: 0 bytes written
Wdm1 12:10:14 DeviceIoControl: Control code 0022200C InputLength 0 OutputLength 4
Wdm1 12:10:14 DeviceIoControl: 4 bytes written
Wdm1 12:10:14 DeviceIoControl: Control code 00222014 InputLength 0 OutputLength 0
Wdm1 12:10:14 DeviceIoControl: 0 bytes written
Wdm1 12:10:14 Write 4 bytes from file pointer 0
Wdm1 12:10:14 Write: 4 bytes written
Wdm1 12:10:14 Close";

/// The book's session, at the book's times: DebugPrint installed at
/// 11:59:09, the checked Wdm1 at 12:00:42, the Monitor started at
/// 12:03:04, Wdm1Test run at 12:05 (the lines the book edited out: its
/// Wdm1's buffer already held data) and again at 12:10:14. Returns the
/// Monitor's rows a second later, and the rows after Edit → Delete events.
fn book_session() -> (Document, Document) {
    at(9);
    add_debugprint();
    at(102);
    add_wdm1();
    at(4 * 60 + 4);
    let monitor = book_monitor();
    at(6 * 60);
    run_wdm1_test();
    at(11 * 60 + 14);
    run_wdm1_test();
    // The lines reach the Monitor within about a second (spec 04 §5.1).
    sleep(1100);
    let shown = monitor.document();
    monitor.clear();
    (shown, monitor.stop())
}

#[test]
fn the_monitor_shows_the_books_listing_7_1() {
    let run = each_run(book_session);
    let (shown, cleared) = run.value_ref();
    // "Slightly edited": the book leaves out Wdm1's PnP lines (the blank
    // lines of l.4460–4467) and the first Wdm1Test run.
    let edited: Vec<Row> = shown
        .rows()
        .iter()
        .filter(|r| !r.time.starts_with("12:05:") && !r.message.starts_with("PnP "))
        .cloned()
        .collect();
    assert_eq!(mask_fdo(&lines(&edited).join("\n")), LISTING_7_1);
    let pnp: Vec<&Row> = shown.rows().iter().filter(|r| r.message.starts_with("PnP ")).collect();
    assert_eq!(pnp.len(), 6, "the PnP IRPs of the start");
    assert!(pnp.iter().all(|r| r.time == "12:00:42"));
    // The first Wdm1Test run: the same 28 lines as the book's, but for its
    // first read, of an empty buffer.
    let first_run: Vec<&str> = shown
        .rows()
        .iter()
        .filter(|r| r.time.starts_with("12:05:"))
        .map(|r| r.message.as_str())
        .collect();
    assert_eq!(first_run.len(), 28);
    assert_eq!(first_run[2], "Read: 0 bytes returned");
    // The Monitor's own row does not mark the document modified; events do.
    assert!(shown.is_modified());
    // Edit → Delete events: only the "Stopped listening" row posted after.
    assert_eq!(cleared.rows().len(), 1);
    assert_eq!(cleared.rows()[0].message, "Stopped listening");
}

#[test]
fn a_saved_monitor_document_loads_as_the_same_rows() {
    let run = each_run(|| book_session().0);
    let mut shown = run.value_ref().clone();
    let bytes = shown.save_dpm();
    assert!(!shown.is_modified(), "saving clears the modified flag");
    let loaded = Document::load_dpm(&bytes);
    assert_eq!(loaded.rows(), shown.rows());
    assert_eq!(loaded.to_string(), shown.to_string());
    let text = std::str::from_utf8(&bytes).expect("ASCII");
    assert!(text.starts_with(&format!("Monitor\t12:03:04\t{LISTENING}\r\n")), "{text}");
    assert_eq!(text.matches("\r\n").count(), shown.rows().len());
}

/// Every row the Monitor showed is also a print line of the run, in the
/// same order per driver (the trace and the Monitor agree).
#[test]
fn the_monitor_and_the_runs_print_lines_agree() {
    let run = each_run(|| book_session().0);
    let printed: Vec<&str> = run.trace.prints().iter().map(|(_, line)| *line).collect();
    assert_eq!(messages(run.value_ref(), "Wdm1"), printed);
}

// ---------------------------------------------------------------------------
// §5.2: a second Monitor

/// With one Monitor idle (its read held), a second one's read fails
/// STATUS_UNSUCCESSFUL, ERROR_GEN_FAILURE: it says so and stops; the first
/// goes on receiving.
#[test]
fn a_second_monitor_stops_with_read_didnt_return_pending_31() {
    let run = each_run(|| {
        add_debugprint();
        let first = monitor();
        sleep(1000);
        let second = monitor();
        sleep(1000);
        let second = second.stop();
        let traced = DebugPrint::for_driver("Traced");
        traced.init();
        traced.msg(b"after the second Monitor");
        traced.close();
        sleep(100);
        (first.stop(), second)
    });
    let (first, second) = run.value_ref();
    assert_eq!(
        messages(second, "Monitor"),
        [LISTENING, "Read didn't return pending 31", "Stopped listening"]
    );
    assert_eq!(second.rows().len(), 3, "{second}");
    assert_eq!(messages(first, "DebugPrint"), [debugprint::STARTED_MESSAGE]);
    assert_eq!(
        messages(first, "Traced"),
        ["DebugPrint logging started", "after the second Monitor", "DebugPrint logging ended"]
    );
    assert_eq!(messages(first, "Monitor"), [LISTENING, "Stopped listening"]);
}

// ---------------------------------------------------------------------------
// §5.3: a Monitor that exits

/// The read IRPs of `trace` that completed STATUS_CANCELLED, 0.
fn cancelled_reads(trace: &Trace) -> usize {
    let reads: Vec<u32> = trace
        .records()
        .iter()
        .filter_map(|r| match r.event {
            TraceEvent::IrpCall { irp, major: IRP_MJ_READ, .. } => Some(irp),
            _ => None,
        })
        .collect();
    trace
        .records()
        .iter()
        .filter(|r| {
            matches!(r.event, TraceEvent::IrpDone { irp, status: STATUS_CANCELLED, information: 0 }
                if reads.contains(&irp))
        })
        .count()
}

/// An idle Monitor told to stop cancels its read within 100 ms, waits for
/// it (STATUS_CANCELLED, 0) and says "Stopped listening"; the device holds
/// no read. A new Monitor at once shows what was written meanwhile.
#[test]
fn a_monitor_that_exits_cancels_its_read_and_the_next_one_gets_the_events() {
    let run = each_run(|| {
        let node = add_debugprint();
        let first = monitor();
        sleep(1000);
        let asked = get_tick_count();
        let first = first.stop();
        let stopped_in_time = get_tick_count() - asked <= 100;
        let state = debugprint_state(node);
        let traced = DebugPrint::for_driver("Traced");
        traced.init();
        traced.print(b"meanwhile %d", &[DpArg::I32(1)]);
        traced.print(b"meanwhile %d", &[DpArg::I32(2)]);
        sleep(1500);
        let second = monitor();
        sleep(1);
        let second_rows = second.document();
        traced.close();
        second.stop();
        (first, stopped_in_time, state, second_rows)
    });
    let (first, stopped_in_time, state, second) = run.value_ref();
    assert_eq!(messages(first, "Monitor"), [LISTENING, "Stopped listening"]);
    assert!(stopped_in_time, "the listener stops within 100 ms");
    assert!(!state.read_held && state.open_handle_count == 0, "{state:?}");
    assert_eq!(cancelled_reads(&run.trace), 2, "each Monitor's last read");
    assert_eq!(
        lines(second.rows()),
        [
            format!("Monitor 00:00:02 {LISTENING}"),
            "Traced 00:00:01 DebugPrint logging started".to_string(),
            "Traced 00:00:01 meanwhile 1".to_string(),
            "Traced 00:00:01 meanwhile 2".to_string(),
        ]
    );
}

// ---------------------------------------------------------------------------
// §5.4: the driver dependency

/// With the checked Wdm1 loaded, DebugPrint cannot be removed: its client
/// holds a handle, so QUERY_REMOVE is vetoed. Once Wdm1 is removed (its
/// unload logs "DebugPrint logging ended" and closes the handle) and the
/// Monitor stopped, removal succeeds.
#[test]
fn debugprint_cannot_be_removed_while_a_traced_driver_is_loaded() {
    let run = each_run(|| {
        let debugprint = add_debugprint();
        let wdm1 = add_wdm1();
        let monitor = monitor();
        sleep(1000);
        let with_wdm1 = pnp::remove_device(debugprint);
        let wdm1_removed = pnp::remove_device(wdm1);
        sleep(100);
        let rows = monitor.stop();
        (with_wdm1, wdm1_removed, pnp::remove_device(debugprint), rows)
    });
    let (with_wdm1, wdm1_removed, after, rows) = run.value_ref();
    let vetoed = PnpError::Vetoed { veto: VetoType::Device, name: r"Root\UNKNOWN\0000".into() };
    assert_eq!(with_wdm1, &Err(vetoed));
    assert_eq!((wdm1_removed, after), (&Ok(()), &Ok(())));
    let wdm1 = messages(rows, "Wdm1");
    assert_eq!(wdm1.first().map(String::as_str), Some("DebugPrint logging started"));
    assert_eq!(wdm1[wdm1.len() - 2..], ["Wdm1Unload", "DebugPrint logging ended"]);
}

// ---------------------------------------------------------------------------
// §1.6: the traced driver loads first

/// The checked Wdm1 loads before DebugPrint: its client finds no device
/// and tries again every 20 s. DebugPrint arrives at 30 s; the open at 40 s
/// succeeds and the lines queued since 0 s reach the device. A Monitor
/// started at 45 s shows them with their own times, after DebugPrint's
/// start event.
#[test]
fn a_driver_loaded_before_debugprint_gets_its_lines_through_later() {
    let run = each_run(|| {
        add_wdm1();
        at(30);
        add_debugprint();
        at(45);
        let monitor = monitor();
        sleep(1);
        let rows = monitor.document();
        monitor.stop();
        rows
    });
    assert_eq!(
        lines(&run.value_ref().rows()[..5]),
        [
            format!("Monitor 00:00:45 {LISTENING}"),
            "DebugPrint 00:00:30 Version 1.02 started".to_string(),
            "Wdm1 00:00:00 DebugPrint logging started".to_string(),
            r"Wdm1 00:00:00 RegistryPath is \REGISTRY\Machine\System\CurrentControlSet\Services\Wdm1".to_string(),
            "Wdm1 00:00:00 DriverEntry completed".to_string(),
        ]
    );
}

// ---------------------------------------------------------------------------
// Load

/// 100,000 trace calls: four drivers, one tracing thread each, alternating
/// DISPATCH_LEVEL and PASSIVE_LEVEL calls, pausing `pause_ms` every 1,000
/// calls so the client threads drain while the load runs, and a Monitor
/// reading throughout. Returns the Monitor's rows, the most events the
/// DebugPrint device ever held at a sample, and its state at the end.
fn load(pause_ms: u32) -> (Document, usize, DebugPrintState) {
    const PER_DRIVER: u32 = 25_000;
    let node = add_debugprint();
    let monitor = monitor();
    for dp in &LOAD_DRIVERS {
        dp.init();
    }
    let tracers = start_tracers(PER_DRIVER, 1000, u64::from(pause_ms));
    let mut peak = 0;
    let sample = Interval::relative_ms(u64::from(pause_ms));
    for tracer in &tracers {
        while ke_wait_for_single_object(tracer, Some(sample)) == STATUS_TIMEOUT {
            peak = peak.max(debugprint_state(node).events_queued);
        }
    }
    for dp in &LOAD_DRIVERS {
        dp.close();
        assert_eq!(dp.status(), ClientStatus::Inactive);
    }
    // Let the Monitor read the rest.
    while debugprint_state(node).events_queued > 0 {
        sleep(pause_ms);
    }
    sleep(pause_ms);
    let rows = monitor.stop();
    (rows, peak, debugprint_state(node))
}

/// Nothing lost, each driver's order kept, and nothing left queued.
fn check_load(rows: &Document, end: &DebugPrintState) {
    for dp in &LOAD_DRIVERS {
        let got = messages(rows, dp.name());
        let numbers: Vec<String> = (0..25_000).map(|i| i.to_string()).collect();
        assert_eq!(got.len(), 25_002, "{}", dp.name());
        assert_eq!(got[0], "DebugPrint logging started");
        assert_eq!(got[1..25_001], numbers[..], "{} in order", dp.name());
        assert_eq!(got[25_001], "DebugPrint logging ended");
    }
    assert_eq!(end.events_queued, 0);
    assert!(!end.read_held && end.open_handle_count == 0, "{end:?}");
}

#[test]
fn a_hundred_thousand_trace_calls_reach_a_reading_monitor() {
    let machine = Machine::sim().debug_print(true).processors(2).trace(false).steps_max(u64::MAX);
    let run = machine.run(|| load(100));
    assert!(run.is_ok(), "{}", run.report());
    let (rows, peak, end) = run.value_ref();
    check_load(rows, end);
    // The device holds what the clients wrote since the Monitor last
    // caught up: at most one second's calls, never the whole load.
    assert!(*peak < 100_000 / 2, "peak {peak}");
}

/// The same on real threads: a soak test of a few seconds.
#[test]
fn a_hundred_thousand_trace_calls_on_real_threads_reach_a_reading_monitor() {
    let run = Machine::threaded().debug_print(true).processors(4).run(|| load(20));
    assert!(run.is_ok(), "{}", run.report());
    let (rows, _, end) = run.value_ref();
    check_load(rows, end);
}

// ---------------------------------------------------------------------------
// The read loop as a future: block_on in a simulation, a tokio task on
// real threads

static ASYNC_TRACED: DebugPrint = DebugPrint::for_driver("AsyncTraced");

/// A traced driver's three lines (started, one message, ended), written
/// and drained by its client.
fn trace_three_lines() {
    ASYNC_TRACED.init();
    ASYNC_TRACED.msg(b"from the driver");
    ASYNC_TRACED.close();
}

/// The rows an async Monitor must show for [`trace_three_lines`].
fn async_rows_expected() -> Vec<String> {
    [
        LISTENING,
        debugprint::STARTED_MESSAGE,
        "DebugPrint logging started",
        "from the driver",
        "DebugPrint logging ended",
        "Stopped listening",
    ]
    .map(String::from)
    .to_vec()
}

/// On simulated threads the loop runs under `win32::block_on`: it shows
/// every event, and a stop request wakes it at once (no 100 ms wait),
/// cancels its read and closes the device.
#[test]
fn an_async_monitor_under_block_on_shows_the_events_and_stops_at_once() {
    use wdmsim::apps::debugprint_monitor::AsyncMonitor;
    use wdmsim::win32::block_on;
    let run = each_run(|| {
        let node = add_debugprint();
        let (monitor, listening) = AsyncMonitor::start(MonitorOptions::default());
        let listener = ps_create_system_thread(move || block_on(listening)).expect("a thread");
        trace_three_lines();
        sleep(10);
        let asked = get_tick_count();
        monitor.stop();
        ke_wait_for_single_object(&listener, None);
        let stopped_in = get_tick_count() - asked;
        let rows = monitor.document();
        (rows.rows().iter().map(|r| r.message.clone()).collect::<Vec<_>>(), stopped_in, {
            let state = debugprint_state(node);
            (state.read_held, state.open_handle_count)
        })
    });
    let (messages, stopped_in, state) = run.value_ref();
    assert_eq!(messages, &async_rows_expected());
    assert_eq!(*stopped_in, 0, "woken by the stop request, not a time-out");
    assert_eq!(*state, (false, 0));
    assert_eq!(cancelled_reads(&run.trace), 1);
}

/// On a threaded machine the loop is a tokio task on a current-thread
/// runtime started in a machine thread.
#[test]
fn an_async_monitor_is_a_tokio_task_on_a_threaded_machine() {
    use wdmsim::apps::debugprint_monitor::AsyncMonitor;
    let run = Machine::threaded().debug_print(true).processors(2).run(|| {
        add_debugprint();
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
        runtime.block_on(async {
            let (monitor, listening) = AsyncMonitor::start(MonitorOptions::default());
            let task = tokio::spawn(listening);
            trace_three_lines();
            // The task shows the events as the runtime lets it run (the
            // bound only keeps a broken loop from hanging the test).
            for _ in 0..100_000_000 {
                if monitor.document().rows().len() >= 5 {
                    break;
                }
                tokio::task::yield_now().await;
            }
            monitor.stop();
            task.await.expect("the listening task");
            monitor.document().rows().iter().map(|r| r.message.clone()).collect::<Vec<_>>()
        })
    });
    assert!(run.is_ok(), "{}", run.report());
    assert_eq!(run.value(), async_rows_expected());
}
