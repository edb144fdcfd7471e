//! Bad input to the Win32 calls gets the status Windows gives, never a
//! panic (spec §1.14–1.15): invalid and closed handles, lengths beyond the
//! caller's buffer, offsets past 4 GB, unknown control codes, output
//! buffers too small, zero-length transfers, seeks before the start, and a
//! failed allocation in Wdm1's growing write (spec §2.6–2.7). Then random
//! call sequences against a model of Wdm1's buffer.

use proptest::prelude::*;
use wdmsim::ddk::dbg_print;
use wdmsim::drivers::wdm1::{self, Wdm1Globals};
use wdmsim::ex::pool::POOL_BLOCK_MAX;
use wdmsim::io::Driver;
use wdmsim::status::*;
use wdmsim::win32::*;
use wdmsim::{Machine, pnp};

use wdm1::{
    IOCTL_WDM1_GET_BUFFER, IOCTL_WDM1_GET_BUFFER_SIZE, IOCTL_WDM1_REMOVE_BUFFER,
    IOCTL_WDM1_UNRECOGNISED, IOCTL_WDM1_ZERO_BUFFER,
};

/// What the last error and the byte counts are preset to before a call,
/// to see whether the call touched them.
const UNSET: u32 = 0xdead_f00d;

// ---------------------------------------------------------------------------
// Helpers (they run inside a machine).

/// Installs Wdm1 and starts its root-enumerated device.
fn boot() -> Driver {
    pnp::install(wdm1::package());
    let node = pnp::add_root_device(wdm1::HARDWARE_ID).expect("the Wdm1 device starts");
    pnp::function_driver(node).expect("Wdm1 drives the device")
}

/// Opens the Wdm1 device through its interface's DevicePath.
fn open() -> Handle {
    let links = wdmsim::io::get_device_interfaces(&wdm1::WDM1_GUID);
    let path = wdmsim::io::device_path(&links[0]);
    let h = create_file(
        &path,
        GENERIC_READ | GENERIC_WRITE,
        FILE_SHARE_READ | FILE_SHARE_WRITE,
        OPEN_EXISTING,
        FILE_ATTRIBUTE_NORMAL,
    );
    assert_ne!(h, INVALID_HANDLE_VALUE, "CreateFile({path}): {}", get_last_error());
    h
}

fn contents(driver: &Driver) -> Vec<u8> {
    driver.extension::<Wdm1Globals>().buffer()
}

/// A line in the trace that the test's checks look for.
fn mark(text: &str) {
    dbg_print("test", format_args!("{text}"));
}

/// ReadFile of `n` bytes into a buffer of `len` bytes preset to 0xCC:
/// (BOOL, last error, bytes read, the buffer).
fn read(h: Handle, len: usize, n: u32) -> (bool, u32, u32, Vec<u8>) {
    let mut buffer = vec![0xCC; len];
    let mut count = UNSET;
    set_last_error(UNSET);
    let ok = read_file(h, &mut buffer, n, &mut count);
    (ok, get_last_error(), count, buffer)
}

/// A call's (BOOL, last error, byte count).
type Result3 = (bool, u32, u32);

/// WriteFile of `n` bytes of `data`: (BOOL, last error, bytes written).
fn write(h: Handle, data: &[u8], n: u32) -> Result3 {
    let mut count = UNSET;
    set_last_error(UNSET);
    let ok = write_file(h, data, n, &mut count);
    (ok, get_last_error(), count)
}

/// DeviceIoControl with no input and an output buffer of `len` bytes
/// preset to 0xAA, claiming `size`: (BOOL, last error, bytes returned,
/// the output buffer).
fn ioctl(h: Handle, code: u32, len: usize, size: u32) -> (bool, u32, u32, Vec<u8>) {
    let mut output = vec![0xAA; len];
    let mut returned = UNSET;
    set_last_error(UNSET);
    let ok = device_io_control(h, code, &[], 0, &mut output, size, &mut returned);
    (ok, get_last_error(), returned, output)
}

/// SetFilePointer to `position` from the start.
fn seek(h: Handle, position: i32) {
    assert_eq!(set_file_pointer(h, position, None, FILE_BEGIN), position as u32);
}

/// Writes `data` at `position` and checks it all went in.
fn put(h: Handle, position: i32, data: &[u8]) {
    seek(h, position);
    assert_eq!(write(h, data, data.len() as u32), (true, UNSET, data.len() as u32));
}

/// Wdm1's Read/Write/DeviceIoControl/Close trace lines between the marks
/// `from` and `to`: the IRPs the driver saw there.
fn driver_io_between(prints: &[(&str, &str)], from: &str, to: &str) -> Vec<String> {
    let at = |m: &str| prints.iter().position(|p| *p == ("test", m)).expect("mark in the trace");
    prints[at(from)..at(to)]
        .iter()
        .filter(|(driver, text)| {
            *driver == wdm1::NAME
                && ["Read", "Write", "DeviceIoControl", "Close", "Create"]
                    .iter()
                    .any(|w| text.starts_with(w))
        })
        .map(|(_, text)| text.to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// Handles.

#[test]
fn invalid_and_closed_handles_are_error_invalid_handle_and_send_no_irp() {
    let run = Machine::sim().processors(2).run(|| {
        let driver = boot();
        let h = open();
        let closed = open();
        assert!(close_handle(closed));
        // A new open may take the closed handle's slot: the old value must
        // still be invalid, not the new file.
        let reopened = open();
        let mut results = Vec::new();
        mark("bad handles");
        for bad in [INVALID_HANDLE_VALUE, Handle(0), Handle(12345), closed] {
            let (ok, error, count, _) = read(bad, 4, 4);
            results.push((bad, "ReadFile", ok, error));
            assert_eq!(count, 0, "ReadFile zeroes the count first");
            let (ok, error, count) = write(bad, b"abcd", 4);
            results.push((bad, "WriteFile", ok, error));
            assert_eq!(count, 0, "WriteFile zeroes the count first");
            let (ok, error, returned, output) = ioctl(bad, IOCTL_WDM1_GET_BUFFER_SIZE, 4, 4);
            results.push((bad, "DeviceIoControl", ok, error));
            assert_eq!((returned, output), (UNSET, vec![0xAA; 4]), "untouched");
            let mut output = [0u8; 4];
            let (status, iosb) =
                nt_device_io_control_file(bad, IOCTL_WDM1_GET_BUFFER_SIZE, &[], &mut output, 4);
            assert_eq!((status, iosb), (STATUS_INVALID_HANDLE, None), "{bad:?}");
            set_last_error(UNSET);
            let mut high = 0;
            let position = set_file_pointer(bad, 1, Some(&mut high), FILE_BEGIN);
            results.push((
                bad,
                "SetFilePointer",
                position != INVALID_SET_FILE_POINTER,
                get_last_error(),
            ));
            set_last_error(UNSET);
            results.push((bad, "CloseHandle", close_handle(bad), get_last_error()));
        }
        mark("end");
        // The good handles still work, and see an untouched buffer.
        put(h, 0, b"abcd");
        let after = read(reopened, 4, 4);
        assert!(close_handle(h) && close_handle(reopened));
        mark("done");
        (results, after, contents(&driver))
    });
    let io = driver_io_between(&run.trace.prints(), "bad handles", "end");
    // The same check sees the good calls afterwards.
    let good = driver_io_between(&run.trace.prints(), "end", "done");
    assert!(good.iter().any(|l| l.starts_with("Write 4 bytes")), "{good:?}");
    assert!(good.iter().any(|l| l.starts_with("Read 4 bytes")), "{good:?}");
    assert_eq!(good.iter().filter(|l| *l == "Close").count(), 2, "{good:?}");
    let (results, after, buffer) = run.value();
    for (handle, call, ok, error) in results {
        assert_eq!((ok, error), (false, ERROR_INVALID_HANDLE), "{call} on {handle:?}");
    }
    assert_eq!(io, Vec::<String>::new(), "no IRP reaches the driver");
    assert_eq!(after, (true, UNSET, 4, b"abcd".to_vec()));
    assert_eq!(buffer, b"abcd");
}

// ---------------------------------------------------------------------------
// Lengths beyond the caller's buffer.

#[test]
fn lengths_beyond_the_callers_buffer_are_error_noaccess_and_send_no_irp() {
    let run = Machine::sim().processors(2).run(|| {
        let driver = boot();
        let h = open();
        put(h, 0, b"abcdefgh");
        seek(h, 0);
        mark("too long");
        let read_long = read(h, 4, 5);
        let write_long = write(h, b"WXYZ", 5);
        let output_long = ioctl(h, IOCTL_WDM1_GET_BUFFER, 4, 5);
        let mut returned = UNSET;
        set_last_error(UNSET);
        let input_long =
            device_io_control(h, IOCTL_WDM1_ZERO_BUFFER, &[1, 2], 3, &mut [], 0, &mut returned);
        let input_long = (input_long, get_last_error(), returned);
        let mut output = [0u8; 2];
        let nt = nt_device_io_control_file(h, IOCTL_WDM1_GET_BUFFER, &[], &mut output, 3);
        mark("end");
        // The same calls with honest lengths reach the driver.
        let read_ok = read(h, 4, 4);
        mark("done");
        (read_long, write_long, output_long, input_long, nt, read_ok, contents(&driver))
    });
    let io = driver_io_between(&run.trace.prints(), "too long", "end");
    let good = driver_io_between(&run.trace.prints(), "end", "done");
    assert_eq!(good, ["Read 4 bytes from file pointer 0", "Read: 4 bytes returned"]);
    let (read_long, write_long, output_long, input_long, nt, read_ok, buffer) = run.value();
    assert_eq!(read_long, (false, ERROR_NOACCESS, 0, vec![0xCC; 4]));
    assert_eq!(write_long, (false, ERROR_NOACCESS, 0));
    assert_eq!(output_long, (false, ERROR_NOACCESS, UNSET, vec![0xAA; 4]));
    assert_eq!(input_long, (false, ERROR_NOACCESS, UNSET));
    assert_eq!(nt, (STATUS_ACCESS_VIOLATION, None));
    assert_eq!(io, Vec::<String>::new(), "no IRP reaches the driver");
    assert_eq!(read_ok, (true, UNSET, 4, b"abcd".to_vec()));
    assert_eq!(buffer, b"abcdefgh", "neither the write nor ZERO_BUFFER ran");
}

// ---------------------------------------------------------------------------
// Offsets past 4 GB (spec §2.6 port rules).

#[test]
fn past_4gb_a_write_is_invalid_parameter_and_a_read_is_end_of_file() {
    let run = Machine::sim().processors(2).run(|| {
        let driver = boot();
        let h = open();
        put(h, 0, b"abcd");
        let mut results = Vec::new();
        // 2^32 exactly, and 2^32 - 2 (a 4-byte transfer there wraps in the
        // C code's 32-bit sum).
        for (low, high) in [(0, 1), (-2, 0), (5, 7)] {
            let mut high_inout = high;
            set_last_error(UNSET);
            let position = set_file_pointer(h, low, Some(&mut high_inout), FILE_BEGIN);
            assert_eq!(
                (position, high_inout, get_last_error()),
                (low as u32, high, UNSET),
                "SetFilePointer({low:#x}, {high})"
            );
            let write4 = write(h, b"WXYZ", 4);
            // (A zero-length write at 2^32 - 2 is legal and would grow the
            // buffer to 4 GB: only past 2^32.)
            let write0 = (high > 0).then(|| write(h, b"", 0));
            results.push((low, high, write4, write0, read(h, 4, 4)));
        }
        (results, contents(&driver))
    });
    let (results, buffer) = run.value();
    for (low, high, write4, write0, read4) in results {
        let at = format!("at {high:#x}:{low:#010x}");
        assert_eq!(write4, (false, ERROR_INVALID_PARAMETER, 0), "WriteFile 4 {at}");
        if let Some(write0) = write0 {
            assert_eq!(write0, (false, ERROR_INVALID_PARAMETER, 0), "WriteFile 0 {at}");
        }
        // Off the end of the buffer: STATUS_END_OF_FILE comes first, and a
        // synchronous ReadFile makes that TRUE with 0 bytes.
        assert_eq!(read4, (true, UNSET, 0, vec![0xCC; 4]), "ReadFile {at}");
    }
    assert_eq!(buffer, b"abcd", "no write changed the buffer");
}

// ---------------------------------------------------------------------------
// Control codes.

#[test]
fn unknown_control_codes_are_error_invalid_function() {
    let codes = [
        0x0022_2018,             // function 0x806: past the driver's codes
        0x1234_5678,             // another device type altogether
        0x0022_2011,             // GET_BUFFER but METHOD_IN_DIRECT
        0x0022_2013,             // GET_BUFFER but METHOD_NEITHER
        0x0022_600C,             // GET_BUFFER_SIZE but FILE_READ_ACCESS
        0x0022_A010,             // GET_BUFFER but FILE_WRITE_ACCESS
        IOCTL_WDM1_UNRECOGNISED, // defined, not handled
        0,
        u32::MAX,
    ];
    let run = Machine::sim().processors(2).run(move || {
        let driver = boot();
        let h = open();
        put(h, 0, b"abcdefgh");
        let results: Vec<_> = codes
            .iter()
            .map(|&code| {
                let mut output = [0u8; 8];
                let nt = nt_device_io_control_file(h, code, &[], &mut output, 8).0;
                (code, ioctl(h, code, 8, 8), nt)
            })
            .collect();
        (results, contents(&driver))
    });
    let (results, buffer) = run.value();
    for (code, result, nt) in results {
        assert_eq!(result, (false, ERROR_INVALID_FUNCTION, UNSET, vec![0xAA; 8]), "{code:#010x}");
        assert_eq!(nt, STATUS_INVALID_DEVICE_REQUEST, "{code:#010x}");
    }
    assert_eq!(buffer, b"abcdefgh");
}

#[test]
fn output_buffers_too_small_are_error_invalid_parameter() {
    let run = Machine::sim().processors(2).run(|| {
        let h = open_after_boot();
        put(h, 0, b"abcdefg");
        let size3 = ioctl(h, IOCTL_WDM1_GET_BUFFER_SIZE, 8, 3);
        let size0 = ioctl(h, IOCTL_WDM1_GET_BUFFER_SIZE, 8, 0);
        let size4 = ioctl(h, IOCTL_WDM1_GET_BUFFER_SIZE, 8, 4);
        let get8 = ioctl(h, IOCTL_WDM1_GET_BUFFER, 8, 8);
        let get7 = ioctl(h, IOCTL_WDM1_GET_BUFFER, 8, 7);
        let get3 = ioctl(h, IOCTL_WDM1_GET_BUFFER, 8, 3);
        let removed = ioctl(h, IOCTL_WDM1_REMOVE_BUFFER, 0, 0);
        let get1_empty = ioctl(h, IOCTL_WDM1_GET_BUFFER, 8, 1);
        let get0_empty = ioctl(h, IOCTL_WDM1_GET_BUFFER, 8, 0);
        (size3, size0, size4, get8, get7, get3, removed, get1_empty, get0_empty)
    });
    let (size3, size0, size4, get8, get7, get3, removed, get1_empty, get0_empty) = run.value();
    let aa = |n: usize| vec![0xAA; n];
    let with = |front: &[u8]| {
        let mut v = front.to_vec();
        v.resize(8, 0xAA);
        v
    };
    assert_eq!(size3, (false, ERROR_INVALID_PARAMETER, UNSET, aa(8)));
    assert_eq!(size0, (false, ERROR_INVALID_PARAMETER, UNSET, aa(8)));
    assert_eq!(size4, (true, UNSET, 4, with(&7u32.to_le_bytes())));
    assert_eq!(get8, (false, ERROR_INVALID_PARAMETER, UNSET, aa(8)));
    assert_eq!(get7, (true, UNSET, 7, with(b"abcdefg")));
    assert_eq!(get3, (true, UNSET, 3, with(b"abc")), "a short GET_BUFFER is a partial read");
    assert_eq!(removed, (true, UNSET, 0, vec![]));
    assert_eq!(get1_empty, (false, ERROR_INVALID_PARAMETER, UNSET, aa(8)));
    assert_eq!(get0_empty, (true, UNSET, 0, aa(8)), "0 bytes of an empty buffer is fine");
}

fn open_after_boot() -> Handle {
    boot();
    open()
}

// ---------------------------------------------------------------------------
// Zero-length transfers (spec §2.6).

#[test]
fn zero_length_reads_succeed_and_a_zero_length_write_past_the_end_grows_the_buffer() {
    let run = Machine::sim().processors(2).run(|| {
        let driver = boot();
        let h = open();
        let mut results = Vec::new();
        let mut step = |what: &str, outcome: (bool, u32, u32), buffer: Vec<u8>| {
            results.push((what.to_string(), outcome, buffer));
        };
        let r = read(h, 2, 0);
        step("read 0 of an empty buffer", (r.0, r.1, r.2), contents(&driver));
        step("write 0 at 0 of an empty buffer", write(h, b"", 0), contents(&driver));
        seek(h, 10);
        step("write 0 at 10", write(h, b"", 0), contents(&driver));
        let r = read(h, 2, 0);
        step("read 0 at the end", (r.0, r.1, r.2), contents(&driver));
        let r = read(h, 4, 4);
        step("read 4 at the end", (r.0, r.1, r.2), contents(&driver));
        put(h, 2, b"xy");
        seek(h, 3);
        let r = read(h, 2, 0);
        step("read 0 inside", (r.0, r.1, r.2), contents(&driver));
        step("write 0 inside", write(h, b"", 0), contents(&driver));
        results
    });
    let zeros = |n: usize| vec![0u8; n];
    let mut grown = zeros(10);
    grown[2..4].copy_from_slice(b"xy");
    let expected = [
        ("read 0 of an empty buffer", (true, UNSET, 0), vec![]),
        ("write 0 at 0 of an empty buffer", (true, UNSET, 0), vec![]),
        ("write 0 at 10", (true, UNSET, 0), zeros(10)),
        ("read 0 at the end", (true, UNSET, 0), zeros(10)),
        ("read 4 at the end", (true, UNSET, 0), zeros(10)),
        ("read 0 inside", (true, UNSET, 0), grown.clone()),
        ("write 0 inside", (true, UNSET, 0), grown),
    ];
    let results = run.value();
    assert_eq!(results.len(), expected.len());
    for ((what, outcome, buffer), (want_what, want_outcome, want_buffer)) in
        results.iter().zip(&expected)
    {
        assert_eq!(what, want_what);
        assert_eq!((outcome, buffer), (want_outcome, want_buffer), "{what}");
    }
}

// ---------------------------------------------------------------------------
// SetFilePointer.

#[test]
fn set_file_pointer_refuses_negative_positions_and_file_end_and_keeps_the_position() {
    let run = Machine::sim().processors(2).run(|| {
        let h = open_after_boot();
        put(h, 0, b"abcdef");
        seek(h, 2);
        let mut results = Vec::new();
        let mut attempt = |what: &str, distance: i32, high: Option<i32>, method: u32| {
            let mut high_inout = high.unwrap_or(0);
            set_last_error(UNSET);
            let position =
                set_file_pointer(h, distance, high.is_some().then_some(&mut high_inout), method);
            let error = get_last_error();
            // Where the handle is now: one byte read there.
            let (_, _, count, byte) = read(h, 1, 1);
            results.push((what.to_string(), position, error, high_inout, count, byte[0]));
        };
        attempt("FILE_BEGIN -1", -1, None, FILE_BEGIN);
        attempt("FILE_CURRENT -3 from 2", -3, None, FILE_CURRENT);
        attempt("FILE_BEGIN high -1", 0, Some(-1), FILE_BEGIN);
        attempt("FILE_END 0", 0, None, FILE_END);
        attempt("move method 3", 0, None, 3);
        attempt("FILE_CURRENT +1", 1, None, FILE_CURRENT);
        attempt("FILE_CURRENT -3 from 3", -3, None, FILE_CURRENT);
        results
    });
    let bad = INVALID_SET_FILE_POINTER;
    let expected = [
        ("FILE_BEGIN -1", bad, ERROR_NEGATIVE_SEEK, 0, 1, b'c'),
        ("FILE_CURRENT -3 from 2", bad, ERROR_NEGATIVE_SEEK, 0, 1, b'c'),
        ("FILE_BEGIN high -1", bad, ERROR_NEGATIVE_SEEK, -1, 1, b'c'),
        ("FILE_END 0", bad, ERROR_INVALID_FUNCTION, 0, 1, b'c'),
        ("move method 3", bad, ERROR_INVALID_PARAMETER, 0, 1, b'c'),
        ("FILE_CURRENT +1", 3, UNSET, 0, 1, b'd'),
        ("FILE_CURRENT -3 from 3", 0, UNSET, 0, 1, b'a'),
    ];
    let results = run.value();
    assert_eq!(results.len(), expected.len());
    for (got, want) in results.iter().zip(expected) {
        let (what, position, error, high, count, byte) = got;
        assert_eq!(what, want.0);
        assert_eq!(
            (*position, *error, *high, *count, *byte),
            (want.1, want.2, want.3, want.4, want.5),
            "{what}"
        );
    }
}

// ---------------------------------------------------------------------------
// Allocation failure in a growing write (spec §2.6: success, short count).

#[test]
fn a_growing_write_whose_allocation_fails_writes_what_fits_and_succeeds() {
    let run = Machine::sim().processors(2).run(|| {
        let driver = boot();
        let h = open();
        put(h, 0, b"abcdef");
        let mut results = Vec::new();
        let mut attempt = |position: i32, data: &[u8]| {
            seek(h, position);
            wdmsim::ex::fail_next_allocations(1);
            let outcome = write(h, data, data.len() as u32);
            wdmsim::ex::fail_next_allocations(0);
            results.push((position, outcome, contents(&driver)));
        };
        attempt(4, b"WXYZ"); // runs 2 past the end: 2 fit
        attempt(6, b"12"); // at the end: nothing fits
        attempt(9, b"34"); // past the end: nothing fits, no zero gap either
        attempt(1, b"mn"); // inside: no allocation, all of it
        // Allocation works again: the same growing write goes all in.
        seek(h, 4);
        let again = write(h, b"WXYZ", 4);
        (results, again, contents(&driver))
    });
    let (results, again, buffer) = run.value();
    let expected: [(i32, Result3, &[u8]); 4] = [
        (4, (true, UNSET, 2), b"abcdWX"),
        (6, (true, UNSET, 0), b"abcdWX"),
        (9, (true, UNSET, 0), b"abcdWX"),
        (1, (true, UNSET, 2), b"amndWX"),
    ];
    for ((position, outcome, contents), (want_position, want_outcome, want_contents)) in
        results.iter().zip(expected)
    {
        assert_eq!(*position, want_position);
        assert_eq!(
            (outcome, contents.as_slice()),
            (&want_outcome, want_contents),
            "write at {position}"
        );
    }
    assert_eq!(again, (true, UNSET, 4));
    assert_eq!(buffer, b"amndWXYZ");
}

/// A read at end of file (spec 02, issue 4's rule for every port): a
/// synchronous ReadFile returns TRUE with 0 bytes read, so Wdm1Test's first
/// run prints "Wrong number of bytes read: 0"; an overlapped one fails with
/// ERROR_HANDLE_EOF, at once and from GetOverlappedResult.
#[test]
fn a_read_at_end_of_file_is_true_with_0_bytes_or_error_handle_eof_overlapped() {
    let run = Machine::sim().processors(2).run(|| {
        boot();
        let h = open();
        set_last_error(UNSET);
        let (mut buffer, mut n) = ([0xCCu8; 4], 99);
        let synchronous = (read_file(h, &mut buffer, 4, &mut n), n, get_last_error());
        assert!(close_handle(h));
        let links = wdmsim::io::get_device_interfaces(&wdm1::WDM1_GUID);
        let path = wdmsim::io::device_path(&links[0]);
        let flags = FILE_ATTRIBUTE_NORMAL | FILE_FLAG_OVERLAPPED;
        let h = create_file(&path, GENERIC_READ, 0, OPEN_EXISTING, flags);
        let read = read_file_overlapped(h, 4, 0);
        set_last_error(UNSET);
        let started = (read.started(), get_last_error());
        let mut n = 99;
        set_last_error(UNSET);
        let result = (get_overlapped_result(&read, &mut n, true), n, get_last_error());
        assert!(close_handle(h));
        (synchronous, started, result)
    });
    assert_eq!(
        run.value(),
        ((true, 0, UNSET), (false, ERROR_HANDLE_EOF), (false, 99, ERROR_HANDLE_EOF))
    );
}

/// A write whose end is past the largest block the pool grants (64 MiB)
/// takes the same path as a failed allocation: what fits in the old buffer
/// is written, with success, and the host never allocates the block.
#[test]
fn a_write_needing_more_than_the_pool_grants_writes_what_fits() {
    let run = Machine::sim().processors(2).run(|| {
        let driver = boot();
        let h = open();
        put(h, 0, b"abcd");
        let beyond = POOL_BLOCK_MAX as i32;
        seek(h, beyond);
        let far = write(h, b"WXYZ", 4);
        (far, contents(&driver))
    });
    assert_eq!(run.value(), ((true, UNSET, 0), b"abcd".to_vec()));
}

// ---------------------------------------------------------------------------
// Random call sequences against a model of Wdm1 (spec §2.6–2.7).

#[derive(Clone, Debug)]
enum Op {
    /// SetFilePointer(pos, NULL, FILE_BEGIN).
    Seek(i32),
    /// SetFilePointer(low, &high, FILE_BEGIN): at or past 4 GB.
    SeekHigh(i32, i32),
    /// SetFilePointer(distance, NULL, FILE_CURRENT), maybe before the start.
    SeekBy(i32),
    /// ReadFile of n bytes (into n + 2, so the guard bytes show overruns).
    Read(u32),
    Write(Vec<u8>),
    /// DeviceIoControl(code, no input, output of this size).
    Ioctl(u32, u32),
    /// CloseHandle, then CreateFile again (position back to 0).
    Reopen,
    /// ReadFile on the handle closed last (or INVALID_HANDLE_VALUE).
    ReadStale,
}

/// What a call gave the caller.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Outcome {
    Seek { position: u32, high: i32, error: Option<u32> },
    Read { ok: bool, error: u32, count: u32, data: Vec<u8> },
    Write { ok: bool, error: u32, count: u32 },
    Ioctl { ok: bool, error: u32, returned: u32, output: Vec<u8> },
    Reopen { closed: bool },
}

const CODES: [u32; 5] = [
    IOCTL_WDM1_ZERO_BUFFER,
    IOCTL_WDM1_REMOVE_BUFFER,
    IOCTL_WDM1_GET_BUFFER_SIZE,
    IOCTL_WDM1_GET_BUFFER,
    IOCTL_WDM1_UNRECOGNISED,
];

fn op_strategy() -> impl Strategy<Value = Op> {
    let code = prop_oneof![4 => prop::sample::select(CODES.to_vec()), 1 => any::<u32>()];
    prop_oneof![
        3 => (0i32..20).prop_map(Op::Seek),
        1 => (0i32..20, 1i32..3).prop_map(|(low, high)| Op::SeekHigh(low, high)),
        1 => (-20i32..20).prop_map(Op::SeekBy),
        // Lengths on both sides of 16 bytes: a synchronous caller's output
        // up to 16 bytes travels in the request's words, a longer one in
        // the kept system buffer.
        4 => (0u32..40).prop_map(Op::Read),
        4 => prop::collection::vec(any::<u8>(), 0..40).prop_map(Op::Write),
        4 => (code, 0u32..40).prop_map(|(code, size)| Op::Ioctl(code, size)),
        1 => Just(Op::Reopen),
        1 => Just(Op::ReadStale),
    ]
}

/// A successful seek: a low part equal to INVALID_SET_FILE_POINTER comes with
/// the last error cleared, any other leaves it alone.
fn seeked(position: i64, high: i32) -> Outcome {
    let low = position as u32;
    let error = (low == INVALID_SET_FILE_POINTER).then_some(ERROR_SUCCESS);
    Outcome::Seek { position: low, high, error }
}

/// Wdm1's buffer and the handle's position, with the spec's algorithms.
#[derive(Debug, Default)]
struct Model {
    buffer: Vec<u8>,
    position: i64,
}

impl Model {
    fn apply(&mut self, op: &Op) -> Outcome {
        match op {
            Op::Seek(position) => {
                self.position = i64::from(*position);
                seeked(self.position, 0)
            }
            Op::SeekHigh(low, high) => {
                self.position = (i64::from(*high) << 32) | i64::from(*low as u32);
                seeked(self.position, *high)
            }
            Op::SeekBy(distance) => {
                let target = self.position + i64::from(*distance);
                if target < 0 {
                    let error = Some(ERROR_NEGATIVE_SEEK);
                    return Outcome::Seek { position: INVALID_SET_FILE_POINTER, high: 0, error };
                }
                self.position = target;
                seeked(target, 0)
            }
            Op::Read(n) => {
                let mut data = vec![0xCC; *n as usize + 2];
                let (off, size) = (self.position as u64, self.buffer.len() as u64);
                if off >= size {
                    // STATUS_END_OF_FILE: TRUE with 0 bytes.
                    return Outcome::Read { ok: true, error: UNSET, count: 0, data };
                }
                if off + u64::from(*n) > u64::from(u32::MAX) {
                    let error = ERROR_INVALID_PARAMETER;
                    return Outcome::Read { ok: false, error, count: 0, data };
                }
                let count = (*n as usize).min((size - off) as usize);
                let off = off as usize;
                data[..count].copy_from_slice(&self.buffer[off..off + count]);
                Outcome::Read { ok: true, error: UNSET, count: count as u32, data }
            }
            Op::Write(bytes) => {
                let off = self.position as u64;
                if off + bytes.len() as u64 > u64::from(u32::MAX) {
                    return Outcome::Write { ok: false, error: ERROR_INVALID_PARAMETER, count: 0 };
                }
                let (off, end) = (off as usize, off as usize + bytes.len());
                let mut count = bytes.len();
                if end > self.buffer.len() {
                    if end <= POOL_BLOCK_MAX {
                        self.buffer.resize(end, 0);
                    } else {
                        // The pool refuses the block: as much as fits in the
                        // old buffer is written, still successfully.
                        count = self.buffer.len().saturating_sub(off);
                    }
                }
                if count > 0 {
                    self.buffer[off..off + count].copy_from_slice(&bytes[..count]);
                }
                Outcome::Write { ok: true, error: UNSET, count: count as u32 }
            }
            Op::Ioctl(code, size) => {
                let mut output = vec![0xAA; *size as usize];
                let fail =
                    |error, output| Outcome::Ioctl { ok: false, error, returned: UNSET, output };
                let done =
                    |returned, output| Outcome::Ioctl { ok: true, error: UNSET, returned, output };
                match *code {
                    IOCTL_WDM1_ZERO_BUFFER => {
                        self.buffer.fill(0);
                        done(0, output)
                    }
                    IOCTL_WDM1_REMOVE_BUFFER => {
                        self.buffer.clear();
                        done(0, output)
                    }
                    IOCTL_WDM1_GET_BUFFER_SIZE if *size < 4 => {
                        fail(ERROR_INVALID_PARAMETER, output)
                    }
                    IOCTL_WDM1_GET_BUFFER_SIZE => {
                        output[..4].copy_from_slice(&(self.buffer.len() as u32).to_le_bytes());
                        done(4, output)
                    }
                    IOCTL_WDM1_GET_BUFFER if *size as usize > self.buffer.len() => {
                        fail(ERROR_INVALID_PARAMETER, output)
                    }
                    IOCTL_WDM1_GET_BUFFER => {
                        let n = *size as usize;
                        output.copy_from_slice(&self.buffer[..n]);
                        done(*size, output)
                    }
                    _ => fail(ERROR_INVALID_FUNCTION, output),
                }
            }
            Op::Reopen => {
                self.position = 0;
                Outcome::Reopen { closed: true }
            }
            Op::ReadStale => Outcome::Read {
                ok: false,
                error: ERROR_INVALID_HANDLE,
                count: 0,
                data: vec![0xCC; 6],
            },
        }
    }
}

/// Runs `ops` against Wdm1 in one machine: each call's outcome and the
/// buffer at the end.
fn run_ops(ops: Vec<Op>, seed: u64) -> wdmsim::Run<(Vec<Outcome>, Vec<u8>)> {
    Machine::sim().processors(2).seed(seed).run(move || {
        let driver = boot();
        let mut h = open();
        let mut stale = INVALID_HANDLE_VALUE;
        let mut outcomes = Vec::new();
        for op in &ops {
            let outcome = match op {
                Op::Seek(position) => {
                    set_last_error(UNSET);
                    let position = set_file_pointer(h, *position, None, FILE_BEGIN);
                    let failed = position == INVALID_SET_FILE_POINTER;
                    Outcome::Seek { position, high: 0, error: failed.then(get_last_error) }
                }
                Op::SeekHigh(low, high) => {
                    let mut high = *high;
                    set_last_error(UNSET);
                    let position = set_file_pointer(h, *low, Some(&mut high), FILE_BEGIN);
                    let failed = position == INVALID_SET_FILE_POINTER;
                    Outcome::Seek { position, high, error: failed.then(get_last_error) }
                }
                Op::SeekBy(distance) => {
                    set_last_error(UNSET);
                    let position = set_file_pointer(h, *distance, None, FILE_CURRENT);
                    let failed = position == INVALID_SET_FILE_POINTER;
                    Outcome::Seek { position, high: 0, error: failed.then(get_last_error) }
                }
                Op::Read(n) => {
                    let (ok, error, count, data) = read(h, *n as usize + 2, *n);
                    Outcome::Read { ok, error, count, data }
                }
                Op::Write(bytes) => {
                    let (ok, error, count) = write(h, bytes, bytes.len() as u32);
                    Outcome::Write { ok, error, count }
                }
                Op::Ioctl(code, size) => {
                    let (ok, error, returned, output) = ioctl(h, *code, *size as usize, *size);
                    Outcome::Ioctl { ok, error, returned, output }
                }
                Op::Reopen => {
                    let closed = close_handle(h);
                    stale = h;
                    h = open();
                    Outcome::Reopen { closed }
                }
                Op::ReadStale => {
                    let (ok, error, count, data) = read(stale, 6, 4);
                    Outcome::Read { ok, error, count, data }
                }
            };
            outcomes.push(outcome);
        }
        close_handle(h);
        (outcomes, contents(&driver))
    })
}

fn listing(ops: &[Op]) -> String {
    ops.iter().enumerate().map(|(i, op)| format!("  {i:2}: {op:?}\n")).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every call's BOOL, last error, count and data, and the final buffer,
    /// agree with the model, for any call sequence and any interleaving.
    #[test]
    fn random_call_sequences_match_a_model_of_wdm1(
        ops in prop::collection::vec(op_strategy(), 0..30),
        seed in any::<u64>(),
    ) {
        let run = run_ops(ops.clone(), seed);
        prop_assert!(run.is_ok(), "ops:\n{}{}", listing(&ops), run.report());
        let (outcomes, buffer) = run.value();
        let mut model = Model::default();
        for (i, (op, got)) in ops.iter().zip(&outcomes).enumerate() {
            let want = model.apply(op);
            prop_assert_eq!(
                got,
                &want,
                "op {} ({:?}) differs; seed {:#x}; ops:\n{}",
                i,
                op,
                seed,
                listing(&ops)
            );
        }
        prop_assert_eq!(outcomes.len(), ops.len());
        prop_assert_eq!(buffer, model.buffer, "final buffer; ops:\n{}", listing(&ops));
    }
}
