//! Wdm2Test (book l.5932–5944; spec 02 §5.1): Wdm1Test retargeted to
//! WDM2_GUID that stops after Test 7 with its handle to the first Wdm2
//! device still open, until the user presses enter. Meanwhile an attempt
//! to remove the device is refused (Wdm2 vetoes QUERY_REMOVE while a handle
//! is open); once the program has ended it succeeds.

use super::Console;
use super::wdm1_test::run_tests;
use crate::drivers::wdm2::WDM2_GUID;

/// The program's main: 0, or 1 if no Wdm2 device could be opened.
/// `during_pause` is what the user does while the program waits (the
/// pause point, after Test 7, is the simulator's choice: the book does not
/// give it); then the program reads the key as the book's does.
pub fn main(console: &mut Console<'_>, during_pause: impl FnOnce(&mut Console<'_>)) -> i32 {
    run_tests(console, &WDM2_GUID, "Wdm2", |console| {
        console.printf(format_args!("\nPress enter to continue"));
        during_pause(console);
        console.gets();
    })
}
