//! The DebugPrint Monitor watching the checked Wdm1 (book chapters 6, 7 and
//! 14; the procedure of book l.3962–3976).
//!
//! Boots a two-processor simulated machine with DebugPrint on (a checked
//! build) at the book's times: the DebugPrint driver installed at 11:59:09,
//! Wdm1 at 12:00:42, the Monitor started at 12:03:04, Wdm1Test run at
//! 12:10:14 (an earlier run at 12:05 fills Wdm1's buffer, as the book's
//! machine had). Then Wdm1 is removed (its unload logs "DebugPrint logging
//! ended"), the Monitor stops, and its rows print as Listing 7.1 does.
//! Virtual time: the twelve minutes take milliseconds.
//!
//! `cargo run --example debugprint_monitor`                  the rows
//! `cargo run --example debugprint_monitor -- --only Wdm1`   one driver's rows
//! `cargo run --example debugprint_monitor -- --save f.dpm`  also save them
//! `cargo run --example debugprint_monitor -- --seed 7`      another interleaving
//! `cargo run --example debugprint_monitor -- --async`       the read loop as a
//!                                                           future (`AsyncMonitor`)

use wdmsim::apps::debugprint_monitor::{AsyncMonitor, Document, Monitor, MonitorOptions};
use wdmsim::apps::{Console, wdm1_test};
use wdmsim::drivers::{debugprint, wdm1};
use wdmsim::ps::create_system_thread;
use wdmsim::win32::{block_on, get_tick_count, sleep};
use wdmsim::{Machine, pnp};

/// The book's machine ran at UTC+11:59 for this example: the simulated
/// clock boots at 00:00:00 UTC.
const BOOK_OFFSET_MINUTES: i32 = 11 * 60 + 59;

/// Sleeps until the local time `hh:mm:ss`.
fn at(hh: u32, mm: u32, ss: u32) {
    let local = (hh * 60 + mm) * 60 + ss;
    let then = (local - BOOK_OFFSET_MINUTES as u32 * 60) * 1000;
    sleep(then.saturating_sub(get_tick_count()));
}

fn wdm1_test() {
    let (mut out, mut input) = (std::io::sink(), &b"\n"[..]);
    wdm1_test::main(&mut Console::new(&mut out, &mut input));
}

/// The Monitor's read loop as a future, driven by `block_on` on a thread
/// of its own while `session` runs.
fn watch_async(options: MonitorOptions, session: impl FnOnce()) -> Document {
    let (monitor, listening) = AsyncMonitor::start(options);
    let listener = create_system_thread(move || block_on(listening)).expect("a thread");
    session();
    monitor.stop();
    wdmsim::ddk::ke_wait_for_single_object(&listener, None);
    monitor.document()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value_of = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    let seed = value_of("--seed").and_then(|s| s.parse().ok()).unwrap_or(0);
    let only = value_of("--only").cloned();
    let save = value_of("--save").cloned();
    let run_async = args.iter().any(|a| a == "--async");

    let machine = Machine::sim().debug_print(true).processors(2).seed(seed);
    let run = machine.run(move || {
        at(11, 59, 9);
        pnp::install(debugprint::package());
        pnp::add_root_device(debugprint::HARDWARE_ID).expect("DebugPrint starts");
        at(12, 0, 42);
        pnp::install(wdm1::package());
        let wdm1 = pnp::add_root_device(wdm1::HARDWARE_ID).expect("Wdm1 starts");
        at(12, 3, 4);
        let options =
            MonitorOptions { utc_offset_minutes: BOOK_OFFSET_MINUTES, ..Default::default() };
        let session = move || {
            at(12, 5, 0);
            wdm1_test();
            at(12, 10, 14);
            wdm1_test();
            at(12, 12, 0);
            pnp::remove_device(wdm1).expect("Wdm1 is removed");
            sleep(1000);
        };
        match run_async {
            false => {
                let monitor = Monitor::start(options);
                session();
                monitor.stop()
            }
            true => watch_async(options, session),
        }
    });
    let mut document = match run.result {
        Ok(document) => document,
        Err(failure) => {
            eprintln!("{failure}\nreplay: {}", run.replay);
            std::process::exit(1);
        }
    };
    match &only {
        Some(driver) => {
            for row in document.filtered(&[driver]) {
                println!("{} {} {}", row.driver, row.time, row.message);
            }
        }
        None => print!("{document}"),
    }
    if let Some(path) = save {
        if let Err(error) = std::fs::write(&path, document.save_dpm()) {
            eprintln!("cannot save {path}: {error}");
            std::process::exit(1);
        }
        println!("saved {} rows to {path}", document.rows().len());
    }
}
