//! The book's Wdm2Power against the Wdm2 port (book l.6328–6356, the power
//! tests of l.6893–6903).
//!
//! Boots a simulated machine with a Wdm2 device and plays the user of the
//! power console: a few seconds of watching, Suspend, then a minute with no
//! I/O, after which the power manager's idle detection powers the device
//! down (D3 after 60 s, l.6897); a run of Wdm2Test then powers it up again
//! with its first read, and the console shows it on; finally Hibernate.
//! Time is virtual: the whole script takes milliseconds.
//!
//! `cargo run --example wdm2_power`            the console's output
//! `cargo run --example wdm2_power -- --trace` also Wdm2's power trace lines

use wdmsim::apps::wdm2_power::{self, Action};
use wdmsim::apps::{Console, wdm2_test};
use wdmsim::drivers::wdm2;
use wdmsim::{Machine, pnp};

fn main() {
    let show_trace = std::env::args().any(|a| a == "--trace");
    let machine = Machine::sim().processors(2);
    let run = machine.run(|| {
        pnp::install(wdm2::package());
        let device = pnp::add_root_device(wdm2::HARDWARE_ID).expect("the Wdm2 device starts");
        let mut out = std::io::stdout();
        let mut input: &[u8] = b"";
        let mut console = Console::new(&mut out, &mut input);
        println!("=== Wdm2Power: watch, Suspend, then a minute without I/O ===");
        let mut codes = vec![wdm2_power::main(
            &mut console,
            &[Action::Wait(3), Action::Suspend, Action::Wait(62)],
        )];
        println!("\n=== Wdm2Test: its first read powers the device up ===");
        let mut sink = Vec::new();
        let mut keys: &[u8] = b"\n\n";
        codes.push(wdm2_test::main(&mut Console::new(&mut sink, &mut keys), |_| {}));
        println!("(Wdm2Test exited with {})", codes[1]);
        println!("\n=== Wdm2Power: the device is on again; Hibernate ===");
        codes.push(wdm2_power::main(&mut console, &[Action::Wait(1), Action::Hibernate]));
        pnp::remove_device(device).expect("the device is removed");
        codes
    });
    if show_trace {
        println!("=== Wdm2 power trace ===");
        for (driver, text) in run.trace.prints() {
            if text.contains("ower") {
                println!("{driver} {text}");
            }
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
