//! The book's Wdm2Test against the Wdm2 port (book chapters 8–10,
//! l.5932–5944).
//!
//! Boots a two-processor simulated machine, installs Wdm2 on a
//! root-enumerated device and runs Wdm2Test twice. Wdm2Test stops after
//! Test 7 with its handle open; during the first run's pause this program
//! plays the user who tries to remove the device in Device Manager, and is
//! refused (CR_REMOVE_VETOED: Wdm2 fails QUERY_REMOVE while a handle is
//! open). Once the programs have ended the removal succeeds.
//!
//! `cargo run --example wdm2_test`            the program's output
//! `cargo run --example wdm2_test -- --trace` also the driver's trace lines
//! `cargo run --example wdm2_test -- --seed 7` another interleaving, same output

use wdmsim::apps::{Console, wdm2_test};
use wdmsim::drivers::wdm2;
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
        pnp::install(wdm2::package());
        let device = pnp::add_root_device(wdm2::HARDWARE_ID).expect("the Wdm2 device starts");
        let mut exit_codes = Vec::new();
        for (run, title) in
            ["first run, removal tried during the pause", "second run"].into_iter().enumerate()
        {
            println!("=== Wdm2Test, {title} ===");
            let mut out = std::io::stdout();
            // The user presses enter at the pause and at the end.
            let mut input: &[u8] = b"\n\n";
            let code = wdm2_test::main(&mut Console::new(&mut out, &mut input), |console| {
                if run > 0 {
                    return;
                }
                match pnp::remove_device(device) {
                    Err(refused) => console.printf(format_args!(
                        "\n[user] Device Manager, remove Wdm2: refused ({refused}); \
                         a handle is open\n"
                    )),
                    Ok(()) => console.printf(format_args!("\n[user] removal unexpectedly done\n")),
                }
            });
            exit_codes.push(code);
            println!();
        }
        let removed = pnp::remove_device(device);
        match &removed {
            Ok(()) => println!("[user] Device Manager, remove Wdm2 after Wdm2Test: done"),
            Err(error) => println!("[user] Device Manager, remove Wdm2 after Wdm2Test: {error}"),
        }
        (exit_codes, removed.is_ok())
    });
    if show_trace {
        println!("=== Wdm2 trace ===");
        for (driver, text) in run.trace.prints() {
            println!("{driver} {text}");
        }
    }
    match run.result {
        Ok((codes, true)) => println!("exit codes {codes:?}; {machine}"),
        Ok((codes, false)) => {
            eprintln!("exit codes {codes:?}; the device was not removed");
            std::process::exit(1);
        }
        Err(failure) => {
            eprintln!("{failure}\nreplay: {}", run.replay);
            std::process::exit(1);
        }
    }
}
