//! What a caller sees for every combination of a dispatch routine's return
//! value, IoStatus.Status, IoMarkIrpPending and transfer method: Wine's
//! ntoskrnl test `test_return_status`, which pins the matrix against real
//! Windows (/work/notes/wine_return_status.md), as a table test.
//!
//! The driver is Wine's `return_status()` (driver.c) ported literally. The
//! matrix runs without Driver Verifier (`io_verification(false)`): several
//! rows are driver bugs Verifier would stop on (a return value that differs
//! from IoStatus.Status, a pending mark with a non-pending return), and Wine
//! observes what Windows does without it.

use wdmsim::ddk::*;
use wdmsim::rtl::nt_status_to_dos_error;
use wdmsim::win32::*;
use wdmsim::{Failure, Machine};

// ---------------------------------------------------------------------------
// The driver (Wine's dlls/ntoskrnl.exe/tests/driver.c, `return_status`).

/// IOCTL_WINETEST_RETURN_STATUS_BUFFERED (driver.h).
const IOCTL_BUFFERED: u32 = ctl_code(FILE_DEVICE_UNKNOWN, 0x80a, METHOD_BUFFERED, FILE_ANY_ACCESS);
/// IOCTL_WINETEST_RETURN_STATUS_DIRECT.
const IOCTL_DIRECT: u32 = ctl_code(FILE_DEVICE_UNKNOWN, 0x80a, METHOD_OUT_DIRECT, FILE_ANY_ACCESS);
/// IOCTL_WINETEST_RETURN_STATUS_NEITHER.
const IOCTL_NEITHER: u32 = ctl_code(FILE_DEVICE_UNKNOWN, 0x80a, METHOD_NEITHER, FILE_ANY_ACCESS);

const DEVICE_NAME: &str = "\\Device\\WineTest";
const LINK_NAME: &str = "\\??\\WineTestDriver";
const WIN32_PATH: &str = "\\\\.\\WineTestDriver";

fn driver_entry(driver: &mut DriverObject, _registry_path: &str) -> NtStatus {
    driver.major_function[IRP_MJ_CREATE as usize] = Some(dispatch_create_close);
    driver.major_function[IRP_MJ_CLOSE as usize] = Some(dispatch_create_close);
    driver.major_function[IRP_MJ_DEVICE_CONTROL as usize] = Some(dispatch_device_control);
    if let Err(status) =
        io_create_device(driver.driver(), (), Some(DEVICE_NAME), FILE_DEVICE_UNKNOWN, 0, false)
    {
        return status;
    }
    io_create_symbolic_link(LINK_NAME, DEVICE_NAME)
}

fn dispatch_create_close(_device: &DeviceObject, mut irp: Irp) -> NtStatus {
    *irp.io_status_mut() = IoStatusBlock { status: STATUS_SUCCESS, information: 0 };
    io_complete_request(irp, IO_NO_INCREMENT);
    STATUS_SUCCESS
}

fn dispatch_device_control(device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let code = match irp.current_stack_location().parameters {
        Parameters::DeviceIoControl { io_control_code, .. } => io_control_code,
        _ => 0,
    };
    match code {
        IOCTL_BUFFERED | IOCTL_DIRECT | IOCTL_NEITHER => return_status(device, irp),
        _ => {
            *irp.io_status_mut() = IoStatusBlock { status: STATUS_NOT_SUPPORTED, information: 0 };
            io_complete_request(irp, IO_NO_INCREMENT);
            STATUS_NOT_SUPPORTED
        }
    }
}

/// Completes `irp` with `status` and returns it (the early exits of
/// Wine's `return_status`).
fn complete(mut irp: Irp, status: NtStatus) -> NtStatus {
    irp.io_status_mut().status = status;
    io_complete_request(irp, IO_NO_INCREMENT);
    status
}

/// Wine's `return_status()`, step by step (notes §1).
fn return_status(_device: &DeviceObject, mut irp: Irp) -> NtStatus {
    let Parameters::DeviceIoControl {
        io_control_code,
        input_buffer_length,
        output_buffer_length,
        type3_input_buffer,
    } = irp.current_stack_location().parameters.clone()
    else {
        return complete(irp, STATUS_INVALID_PARAMETER);
    };

    // 1-2. The buffers, by method, and their checks.
    let mut input = [0u8; 12];
    let (have_input, have_output) = match io_control_code & 3 {
        METHOD_NEITHER => {
            let have_input = type3_input_buffer.is_some_and(|memory| {
                memory.read(0, &mut input);
                true
            });
            (have_input, irp.user_buffer().is_some())
        }
        METHOD_OUT_DIRECT => {
            let have_input = irp.system_buffer().is_some_and(|system| {
                let n = system.len().min(12);
                input[..n].copy_from_slice(&system[..n]);
                true
            });
            (have_input, irp.mdl_address().is_some())
        }
        _ => {
            let have_input = irp.system_buffer().is_some_and(|system| {
                let n = system.len().min(12);
                input[..n].copy_from_slice(&system[..n]);
                true
            });
            (have_input, have_input)
        }
    };
    if !have_input || !have_output {
        return complete(irp, STATUS_ACCESS_VIOLATION);
    }
    if input_buffer_length < 12 || output_buffer_length < 6 {
        return complete(irp, STATUS_BUFFER_TOO_SMALL);
    }

    // 3. The parameters.
    let word = |i: usize| u32::from_le_bytes([input[i], input[i + 1], input[i + 2], input[i + 3]]);
    let ret_status = NtStatus(word(0));
    let iosb_status = NtStatus(word(4));
    let pending = word(8) != 0;
    if ret_status == STATUS_PENDING && !pending {
        // "causes kernel hangs"
        return complete(irp, STATUS_INVALID_PARAMETER);
    }

    // 4. The pending mark.
    if pending {
        io_mark_irp_pending(&mut irp);
    }

    // 5. Six bytes into the output buffer.
    match io_control_code & 3 {
        METHOD_NEITHER => {
            if let Some(user) = irp.user_buffer() {
                user.write(0, b"ghijkl");
            }
        }
        METHOD_OUT_DIRECT => {
            if let Some(mdl) = irp.mdl_address() {
                mm_get_system_address_for_mdl_safe(mdl).write(0, b"ghijkl");
            }
        }
        _ => {
            if let Some(system) = irp.system_buffer_mut() {
                system[..6].copy_from_slice(b"ghijkl");
            }
        }
    }

    // 6-8. Information 3 (fewer than written), the status, completion.
    *irp.io_status_mut() = IoStatusBlock { status: iosb_status, information: 3 };
    io_complete_request(irp, IO_NO_INCREMENT);

    // 9. The return value, which may differ from IoStatus.Status.
    ret_status
}

// ---------------------------------------------------------------------------
// The cases (ntoskrnl.c, `test_return_status`).

/// The nine statuses the test iterates, both as return value and as
/// IoStatus.Status (notes §2): S, S, S, S, P, W, W, E, E.
const STATUSES: [NtStatus; 9] = [
    STATUS_SUCCESS,
    STATUS_TIMEOUT,
    NtStatus(0x0ead_beef),
    NtStatus(0x4ead_beef),
    STATUS_PENDING,
    STATUS_BUFFER_OVERFLOW,
    NtStatus(0x8ead_beef),
    STATUS_NOT_IMPLEMENTED,
    NtStatus(0xcead_beef),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Method {
    Buffered,
    OutDirect,
    Neither,
}

impl Method {
    const ALL: [Method; 3] = [Method::Buffered, Method::OutDirect, Method::Neither];

    fn code(self) -> u32 {
        match self {
            Method::Buffered => IOCTL_BUFFERED,
            Method::OutDirect => IOCTL_DIRECT,
            Method::Neither => IOCTL_NEITHER,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
struct Case {
    ret: NtStatus,
    iosb: NtStatus,
    pending: bool,
    method: Method,
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{:?} ret={:?} iosb={:?} pending={}]",
            self.method, self.ret, self.iosb, self.pending
        )
    }
}

impl Case {
    fn input(&self) -> Vec<u8> {
        let mut input = Vec::with_capacity(12);
        input.extend_from_slice(&self.ret.0.to_le_bytes());
        input.extend_from_slice(&self.iosb.0.to_le_bytes());
        input.extend_from_slice(&u32::from(self.pending).to_le_bytes());
        input
    }
}

/// Every case of the test's four loops, without ret = PENDING unmarked
/// (the test skips those before calling): 459 cases.
fn all_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for ret in STATUSES {
        for iosb in STATUSES {
            for pending in [false, true] {
                for method in Method::ALL {
                    if ret == STATUS_PENDING && !pending {
                        continue;
                    }
                    cases.push(Case { ret, iosb, pending, method });
                }
            }
        }
    }
    cases
}

// ---------------------------------------------------------------------------
// The expectations: the notes' rules, one function each.

/// The caller's buffer before every call: "abcdef" and its NUL.
const PRESET: &[u8; 7] = b"abcdef\0";
/// What the test presets the byte count and the last error to.
const SENTINEL: u32 = 0xdead_f00d;

/// §3.1: a synchronous caller sees the return value, or IoStatus.Status
/// after the wait when the routine returned STATUS_PENDING.
fn expected_final(c: &Case) -> NtStatus {
    if c.ret == STATUS_PENDING { c.iosb } else { c.ret }
}

/// §4 rule 4: the status block is written iff IoStatus.Status is not an
/// error, with what the driver put there.
fn expected_sync_iosb(c: &Case) -> Option<IoStatusBlock> {
    (!c.iosb.is_error()).then_some(IoStatusBlock { status: c.iosb, information: 3 })
}

/// §3 buffer table: buffered copies Information bytes back iff
/// IoStatus.Status is not an error; direct and neither saw all six bytes.
fn expected_output(c: &Case) -> [u8; 7] {
    match c.method {
        Method::Buffered if c.iosb.is_error() => *b"abcdef\0",
        Method::Buffered => *b"ghidef\0",
        Method::OutDirect | Method::Neither => *b"ghijkl\0",
    }
}

/// What kernel32's DeviceIoControl gives on the synchronous handle (§4
/// rule 8): its BOOL, the last error, and the byte count where the test
/// pins it (`None`: "garbage", not checked).
#[derive(Debug, PartialEq, Eq)]
struct Dioc {
    ok: bool,
    last_error: u32,
    bytes: Option<u32>,
}

fn expected_dioc(c: &Case) -> Dioc {
    let status = expected_final(c);
    let ok = status.is_success();
    let last_error = if ok { SENTINEL } else { nt_status_to_dos_error(status) };
    let bytes = if status.is_error() {
        Some(SENTINEL) // untouched
    } else if !c.iosb.is_error() {
        Some(3)
    } else {
        None
    };
    Dioc { ok, last_error, bytes }
}

/// What the overlapped handle sees (§3.2, §4 rules 5-6): the return value
/// verbatim; completion (status block, event) iff the IRP was marked
/// pending or IoStatus.Status is not an error.
#[derive(Debug, PartialEq, Eq)]
struct Ov {
    status: NtStatus,
    io_status: Option<IoStatusBlock>,
    complete: bool,
    buffer: Vec<u8>,
}

fn expected_overlapped(c: &Case) -> Ov {
    let completes = c.pending || !c.iosb.is_error();
    Ov {
        status: c.ret,
        io_status: completes.then_some(IoStatusBlock { status: c.iosb, information: 3 }),
        complete: completes,
        buffer: expected_output(c).to_vec(),
    }
}

// ---------------------------------------------------------------------------
// Running cases.

/// What one case observed, call by call (A, B and C of the notes).
#[derive(Debug)]
struct Observed {
    dioc: Dioc,
    dioc_output: [u8; 7],
    nt_status: NtStatus,
    nt_iosb: Option<IoStatusBlock>,
    nt_output: [u8; 7],
    ov: Ov,
}

/// Loads the driver and opens a synchronous and an overlapped handle.
fn open_driver() -> (Handle, Handle) {
    wdmsim::io::load_driver("WineTest", driver_entry).expect("the WineTest driver loads");
    let sync = create_file(WIN32_PATH, 0, 0, OPEN_EXISTING, 0);
    assert_ne!(sync, INVALID_HANDLE_VALUE, "open: {}", get_last_error());
    let overlapped = create_file(WIN32_PATH, 0, 0, OPEN_EXISTING, FILE_FLAG_OVERLAPPED);
    assert_ne!(overlapped, INVALID_HANDLE_VALUE, "open overlapped: {}", get_last_error());
    (sync, overlapped)
}

/// Makes the calls of one case (inside a machine).
fn observe(c: &Case, sync: Handle, overlapped: Handle) -> Observed {
    let input = c.input();

    // A: DeviceIoControl on the synchronous handle.
    let mut dioc_output = *PRESET;
    let mut bytes = SENTINEL;
    set_last_error(SENTINEL);
    let ok = device_io_control(sync, c.method.code(), &input, 12, &mut dioc_output, 7, &mut bytes);
    let dioc = Dioc { ok, last_error: get_last_error(), bytes: Some(bytes) };

    // B: NtDeviceIoControlFile on the same handle.
    let mut nt_output = *PRESET;
    let (nt_status, nt_iosb) =
        nt_device_io_control_file(sync, c.method.code(), &input, &mut nt_output, 7);

    // C: NtDeviceIoControlFile on an overlapped handle.
    let request =
        device_io_control_overlapped(overlapped, c.method.code(), &input, PRESET.to_vec());
    let ov = Ov {
        status: request.status(),
        io_status: request.io_status(),
        complete: request.is_complete(),
        buffer: request.buffer(),
    };

    Observed { dioc, dioc_output, nt_status, nt_iosb, nt_output, ov }
}

/// Every way `seen` differs from the rules, each line naming the case.
fn mismatches(c: &Case, seen: &Observed) -> Vec<String> {
    let mut out = Vec::new();
    let mut check = |what: &str, ok: bool, got: String, want: String| {
        if !ok {
            out.push(format!("{c:?} {what}: got {got}, expected {want}"));
        }
    };
    // (a) NtDeviceIoControlFile's status.
    let want = expected_final(c);
    check("NtDeviceIoControlFile status", seen.nt_status == want, dbg(seen.nt_status), dbg(want));
    // (b) its status block.
    let want = expected_sync_iosb(c);
    check("NtDeviceIoControlFile IOSB", seen.nt_iosb == want, dbg(seen.nt_iosb), dbg(want));
    // (c) the output buffer, after either synchronous call.
    let want = expected_output(c);
    check(
        "NtDeviceIoControlFile output",
        seen.nt_output == want,
        text(&seen.nt_output),
        text(&want),
    );
    check("DeviceIoControl output", seen.dioc_output == want, text(&seen.dioc_output), text(&want));
    // (d) kernel32's DeviceIoControl.
    let want = expected_dioc(c);
    check("DeviceIoControl result", seen.dioc.ok == want.ok, dbg(seen.dioc.ok), dbg(want.ok));
    check(
        "DeviceIoControl last error",
        seen.dioc.last_error == want.last_error,
        format!("{:#x}", seen.dioc.last_error),
        format!("{:#x}", want.last_error),
    );
    if let Some(bytes) = want.bytes {
        check(
            "DeviceIoControl bytes returned",
            seen.dioc.bytes == Some(bytes),
            format!("{:#x}", seen.dioc.bytes.unwrap_or_default()),
            format!("{bytes:#x}"),
        );
    }
    // (e)-(f) the overlapped handle.
    let want = expected_overlapped(c);
    check(
        "overlapped status",
        seen.ov.status == want.status,
        dbg(seen.ov.status),
        dbg(want.status),
    );
    check(
        "overlapped IOSB",
        seen.ov.io_status == want.io_status,
        dbg(seen.ov.io_status),
        dbg(want.io_status),
    );
    check(
        "overlapped event set",
        seen.ov.complete == want.complete,
        dbg(seen.ov.complete),
        dbg(want.complete),
    );
    check(
        "overlapped output",
        seen.ov.buffer == want.buffer,
        text(&seen.ov.buffer),
        text(&want.buffer),
    );
    out
}

fn dbg(value: impl std::fmt::Debug) -> String {
    format!("{value:?}")
}

fn text(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}

/// Runs `cases` in one machine without Driver Verifier; every mismatch,
/// or the failure that ended the run with the case it was in.
fn run_cases(cases: Vec<Case>, seed: u64) -> Vec<String> {
    let current = crate::support::Log::default();
    let log = current.clone();
    let run = Machine::sim().processors(2).seed(seed).io_verification(false).run(move || {
        let (sync, overlapped) = open_driver();
        let mut found = Vec::new();
        for c in &cases {
            log.push(format!("{c:?}"));
            found.extend(mismatches(c, &observe(c, sync, overlapped)));
        }
        assert!(close_handle(sync) && close_handle(overlapped));
        found
    });
    match run.result {
        Ok(found) => found,
        Err(ref failure) => {
            let case = current.lines().pop().unwrap_or_else(|| "before the first case".into());
            let what = match failure {
                // The stop line and the rule's message.
                Failure::BugCheck(check) => {
                    check.to_string().lines().take(2).map(str::trim).collect::<Vec<_>>().join(" / ")
                }
                other => other.to_string(),
            };
            vec![format!("{case}: the run ended: {what} (replay: {})", run.replay)]
        }
    }
}

#[track_caller]
fn assert_none(found: Vec<String>) {
    assert!(found.is_empty(), "{} mismatches:\n{}", found.len(), found.join("\n"));
}

// ---------------------------------------------------------------------------
// Tests.

#[test]
fn the_codes_and_the_case_count_are_the_tests() {
    assert_eq!(
        (IOCTL_BUFFERED, IOCTL_DIRECT, IOCTL_NEITHER),
        (0x0022_2028, 0x0022_202A, 0x0022_202B)
    );
    let cases = all_cases();
    assert_eq!(cases.len(), 459);
    assert_eq!(cases.iter().filter(|c| c.iosb == STATUS_PENDING).count(), 51);
}

/// The matrix for one method, except IoStatus.Status = STATUS_PENDING (see
/// `rows_completed_with_status_pending`), in one machine run.
fn method_matrix(method: Method) {
    let cases: Vec<Case> = all_cases()
        .into_iter()
        .filter(|c| c.method == method && c.iosb != STATUS_PENDING)
        .collect();
    assert_eq!(cases.len(), 136);
    assert_none(run_cases(cases, 0));
}

#[test]
fn matrix_method_buffered() {
    method_matrix(Method::Buffered);
}

#[test]
fn matrix_method_out_direct() {
    method_matrix(Method::OutDirect);
}

#[test]
fn matrix_method_neither() {
    method_matrix(Method::Neither);
}

/// The 51 rows where the driver completes the IRP with IoStatus.Status =
/// STATUS_PENDING. Windows without Driver Verifier accepts that (Wine's
/// test sees each row's result on real Windows, notes §3.1 row P/P); each
/// runs in its own machine so one stop cannot hide the others.
#[test]
fn rows_completed_with_status_pending() {
    let mut found = Vec::new();
    for c in all_cases().into_iter().filter(|c| c.iosb == STATUS_PENDING) {
        found.extend(run_cases(vec![c], 0));
    }
    assert_none(found);
}

/// A few rows with every value written out, independent of the rule
/// functions above.
#[test]
fn pinned_rows() {
    struct Row {
        case: Case,
        nt: (NtStatus, Option<(u32, usize)>),
        output: &'static [u8; 7],
        dioc: (bool, u32, Option<u32>),
        ov: (NtStatus, Option<(u32, usize)>, bool),
    }
    let case = |ret: u32, iosb: u32, pending: bool, method: Method| Case {
        ret: NtStatus(ret),
        iosb: NtStatus(iosb),
        pending,
        method,
    };
    let rows = [
        // Returns an error, completes with success: the call fails, yet the
        // data is copied back and the status block written.
        Row {
            case: case(0xC000_0002, 0, false, Method::Buffered),
            nt: (STATUS_NOT_IMPLEMENTED, Some((0, 3))),
            output: b"ghidef\0",
            dioc: (false, 1, Some(SENTINEL)),
            ov: (STATUS_NOT_IMPLEMENTED, Some((0, 3)), true),
        },
        // Returns success, completes with an error: the call succeeds but
        // nothing comes back, and the overlapped caller is never told.
        Row {
            case: case(0, 0xC000_0002, false, Method::Buffered),
            nt: (STATUS_SUCCESS, None),
            output: b"abcdef\0",
            dioc: (true, SENTINEL, None),
            ov: (STATUS_SUCCESS, None, false),
        },
        // Pending, then a warning: the synchronous caller gets the warning
        // (FALSE, ERROR_MORE_DATA) with the data and the count.
        Row {
            case: case(0x103, 0x8000_0005, true, Method::Buffered),
            nt: (STATUS_BUFFER_OVERFLOW, Some((0x8000_0005, 3))),
            output: b"ghidef\0",
            dioc: (false, 234, Some(3)),
            ov: (STATUS_PENDING, Some((0x8000_0005, 3)), true),
        },
        // A made-up warning returned over a made-up informational status.
        Row {
            case: case(0x8ead_beef, 0x4ead_beef, false, Method::OutDirect),
            nt: (NtStatus(0x8ead_beef), Some((0x4ead_beef, 3))),
            output: b"ghijkl\0",
            dioc: (false, 317, Some(3)),
            ov: (NtStatus(0x8ead_beef), Some((0x4ead_beef, 3)), true),
        },
        // Marked pending, completed with an error, returned STATUS_TIMEOUT:
        // the synchronous caller sees success and no status block; the
        // overlapped one is told the error because the IRP was pending.
        Row {
            case: case(0x102, 0xcead_beef, true, Method::Neither),
            nt: (STATUS_TIMEOUT, None),
            output: b"ghijkl\0",
            dioc: (true, SENTINEL, None),
            ov: (STATUS_TIMEOUT, Some((0xcead_beef, 3)), true),
        },
        // Pending, then an error: the error after the wait, nothing copied.
        Row {
            case: case(0x103, 0xcead_beef, true, Method::Buffered),
            nt: (NtStatus(0xcead_beef), None),
            output: b"abcdef\0",
            dioc: (false, 317, Some(SENTINEL)),
            ov: (STATUS_PENDING, Some((0xcead_beef, 3)), true),
        },
        // An error not marked pending, direct: no completion, but the driver
        // wrote the caller's memory itself.
        Row {
            case: case(0xC000_0002, 0xC000_0002, false, Method::OutDirect),
            nt: (STATUS_NOT_IMPLEMENTED, None),
            output: b"ghijkl\0",
            dioc: (false, 1, Some(SENTINEL)),
            ov: (STATUS_NOT_IMPLEMENTED, None, false),
        },
    ];
    let cases: Vec<Case> = rows.iter().map(|r| r.case).collect();
    let run = Machine::sim().processors(2).io_verification(false).run(move || {
        let (sync, overlapped) = open_driver();
        cases.iter().map(|c| observe(c, sync, overlapped)).collect::<Vec<_>>()
    });
    let seen = run.value();
    let block = |b: Option<(u32, usize)>| {
        b.map(|(status, information)| IoStatusBlock { status: NtStatus(status), information })
    };
    for (row, seen) in rows.iter().zip(&seen) {
        let c = row.case;
        assert_eq!((seen.nt_status, seen.nt_iosb), (row.nt.0, block(row.nt.1)), "{c:?}");
        assert_eq!(&seen.nt_output, row.output, "{c:?}");
        assert_eq!(&seen.dioc_output, row.output, "{c:?}");
        let (ok, error, bytes) = row.dioc;
        assert_eq!((seen.dioc.ok, seen.dioc.last_error), (ok, error), "{c:?}");
        if let Some(bytes) = bytes {
            assert_eq!(seen.dioc.bytes, Some(bytes), "{c:?}");
        }
        let (status, iosb, complete) = row.ov;
        assert_eq!(
            (seen.ov.status, seen.ov.io_status, seen.ov.complete),
            (status, block(iosb), complete),
            "{c:?}"
        );
        assert_eq!(seen.ov.buffer, row.output.to_vec(), "{c:?}");
        // And the rule functions agree with the literal row.
        assert!(mismatches(&c, seen).is_empty(), "{c:?}: {:?}", mismatches(&c, seen));
    }
}

/// The row Wine marks todo_wine, written out: returned STATUS_PENDING and
/// completed with STATUS_PENDING. Windows gives STATUS_PENDING from
/// NtDeviceIoControlFile and TRUE from DeviceIoControl, last error
/// unchanged, 3 bytes, "ghi" copied back.
#[test]
fn pending_returned_and_completed_with_pending_pinned() {
    let c =
        Case { ret: STATUS_PENDING, iosb: STATUS_PENDING, pending: true, method: Method::Buffered };
    let run = Machine::sim().processors(2).io_verification(false).run(move || {
        let (sync, overlapped) = open_driver();
        observe(&c, sync, overlapped)
    });
    assert!(run.is_ok(), "{c:?}: {}", run.report());
    let seen = run.value();
    let pending3 = Some(IoStatusBlock { status: STATUS_PENDING, information: 3 });
    assert_eq!((seen.nt_status, seen.nt_iosb), (STATUS_PENDING, pending3));
    assert_eq!(&seen.nt_output, b"ghidef\0");
    assert_eq!(seen.dioc, Dioc { ok: true, last_error: SENTINEL, bytes: Some(3) });
    assert_eq!(
        (seen.ov.status, seen.ov.io_status, seen.ov.complete),
        (STATUS_PENDING, pending3, true)
    );
}

/// The interleaving does not matter: the buffered matrix, on four seeds.
#[test]
fn the_buffered_matrix_under_other_seeds() {
    for seed in 1..5 {
        let cases: Vec<Case> = all_cases()
            .into_iter()
            .filter(|c| c.method == Method::Buffered && c.iosb != STATUS_PENDING)
            .collect();
        assert_none(run_cases(cases, seed));
    }
}
