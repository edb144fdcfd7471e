//! The book's user-mode programs (the test programs and the DebugPrint
//! Monitor), ported to the [`crate::win32`] API.
//! They run as simulated threads; their console is whatever writer and
//! reader the caller gives them.

pub mod debugprint_monitor;
pub mod wdm1_test;
pub mod wdm2_power;
pub mod wdm2_test;

use std::fmt;
use std::io::{BufRead, Write};

/// A program's console: printf to `out`, gets from `input`. Console I/O
/// errors are ignored, as printf's are.
pub struct Console<'a> {
    out: &'a mut dyn Write,
    input: &'a mut dyn BufRead,
}

impl fmt::Debug for Console<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Console")
    }
}

impl<'a> Console<'a> {
    pub fn new(out: &'a mut dyn Write, input: &'a mut dyn BufRead) -> Console<'a> {
        Console { out, input }
    }

    pub fn printf(&mut self, text: fmt::Arguments<'_>) {
        let _ = self.out.write_fmt(text);
        let _ = self.out.flush();
    }

    /// gets: one line of input (nothing at end of input).
    pub fn gets(&mut self) -> String {
        let mut line = String::new();
        let _ = self.input.read_line(&mut line);
        line
    }
}
