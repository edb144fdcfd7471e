//! The book's Wdm1Test against the Wdm1 port (book chapters 5 and 7).
//!
//! Boots a two-processor simulated machine, installs Wdm1 on a
//! root-enumerated device (DriverEntry, AddDevice, IRP_MN_START_DEVICE), runs
//! Wdm1Test twice (the first run after the driver loads, when the buffer is
//! empty, then the steady state the book shows, l.3343–3405), and removes
//! the device.
//!
//! `cargo run --example wdm1_test`            the program's output
//! `cargo run --example wdm1_test -- --trace` also the driver's trace lines
//! `cargo run --example wdm1_test -- --seed 7` another interleaving, same output

use wdmsim::apps::{Console, wdm1_test};
use wdmsim::drivers::wdm1;
use wdmsim::{Machine, pnp};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let show_trace = args.iter().any(|a| a == "--trace");
    let seed = args
        .iter()
        .position(|a| a == "--seed")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let machine = Machine::sim().processors(2).seed(seed);
    let run = machine.run(|| {
        pnp::install(wdm1::package());
        let device = pnp::add_root_device(wdm1::HARDWARE_ID).expect("the Wdm1 device starts");
        let mut exit_codes = Vec::new();
        for title in ["first run after the driver loads", "second run (the book's Listing 5.6)"] {
            println!("=== Wdm1Test, {title} ===");
            let mut out = std::io::stdout();
            let mut input = std::io::stdin().lock();
            exit_codes.push(wdm1_test::main(&mut Console::new(&mut out, &mut input)));
            println!();
        }
        pnp::remove_device(device).expect("the device is removed");
        exit_codes
    });
    if show_trace {
        println!("=== Wdm1 trace ===");
        for (driver, text) in run.trace.prints() {
            println!("{driver} {text}");
        }
    }
    match run.result {
        Ok(codes) => println!("exit codes {codes:?}; {machine}"),
        Err(failure) => {
            eprintln!("{failure}\nreplay: {}", run.replay);
            std::process::exit(1);
        }
    }
}
