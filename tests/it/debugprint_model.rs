//! Spec 04 §5.6's property test of DebugPrint: random writes, overlapped reads, CancelIo and
//! close-and-reopen on two handles, issued by one thread against a model of §2.4–2.10, and by two
//! racing threads against §4.4's invariants (INV-01, -03, -04, -08 to -13).

use crate::support::spawn;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use proptest::prelude::*;
use wdmsim::Machine;
use wdmsim::ddk::*;
use wdmsim::drivers::debugprint::{
    self, DEBUGPRINT_GUID, DebugPrintDeviceExtension, DebugPrintState, STARTED_MESSAGE, record,
};
use wdmsim::pnp::{self, DeviceNode};
use wdmsim::trace::{Event as TraceEvent, Trace};
use wdmsim::win32::*;

/// The longest write and read a sequence makes, and the drain's reads.
const MAX_LEN: u32 = 2048;
/// Win32 error of STATUS_UNSUCCESSFUL (ERROR_GEN_FAILURE).
const GEN_FAILURE: u32 = 31;

// ---------------------------------------------------------------------------
// Operations

#[derive(Clone, Debug)]
enum Op {
    /// WriteFile of these bytes on handle `.0`.
    Write(usize, Vec<u8>),
    /// ReadFile of this many bytes on handle `.0`.
    Read(usize, u32),
    /// CancelIo on handle `.0`.
    Cancel(usize),
    /// CloseHandle on handle `.0`, then CreateFile again in its place.
    Reopen(usize),
}

impl Op {
    fn handle(&self) -> usize {
        match *self {
            Op::Write(h, _) | Op::Read(h, _) | Op::Cancel(h) | Op::Reopen(h) => h,
        }
    }

    /// One line, with a write's length instead of its bytes.
    fn line(&self) -> String {
        match self {
            Op::Write(h, data) => format!("Write({h}, {} bytes)", data.len()),
            other => format!("{other:?}"),
        }
    }
}

/// Lengths 0–2048, with 0 and lengths around the start event's (48 bytes)
/// and its time fields (16) often enough to truncate it.
fn length() -> impl Strategy<Value = u32> {
    prop_oneof![1 => Just(0u32), 1 => 1u32..64, 2 => 0u32..=MAX_LEN]
}

fn op_strategy() -> impl Strategy<Value = Op> {
    let data = length().prop_flat_map(|n| prop::collection::vec(any::<u8>(), n as usize));
    prop_oneof![
        4 => (0usize..2, data).prop_map(|(h, data)| Op::Write(h, data)),
        4 => (0usize..2, length()).prop_map(|(h, n)| Op::Read(h, n)),
        2 => (0usize..2).prop_map(Op::Cancel),
        1 => (0usize..2).prop_map(Op::Reopen),
    ]
}

fn ops_strategy() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op_strategy(), 0..48)
}

fn listing(ops: &[Op]) -> String {
    ops.iter().enumerate().map(|(i, op)| format!("  {i:2}: {}\n", op.line())).collect()
}

// ---------------------------------------------------------------------------
// The device and its handles (as debugprint_driver.rs does it)

/// Installs DebugPrint and brings its device up.
fn add() -> DeviceNode {
    pnp::install(debugprint::package());
    pnp::add_root_device(debugprint::HARDWARE_ID).expect("the DebugPrint device starts")
}

/// The DebugPrint FDO on top of `node`'s stack.
fn fdo(node: DeviceNode) -> DeviceObject {
    wdmsim::io::get_attached_device(&pnp::pdo(node).expect("a PDO"))
}

fn state(node: DeviceNode) -> DebugPrintState {
    fdo(node).extension::<DebugPrintDeviceExtension>().state()
}

/// Started, `handles` open, `events` queued, a read held or not, and
/// nothing else in flight.
fn settled(handles: i32, events: usize, held: bool) -> DebugPrintState {
    DebugPrintState {
        got_resources: true,
        paused: false,
        io_disabled: false,
        open_handle_count: handles,
        usage_count: 1 + i32::from(held),
        stopping: false,
        read_held: held,
        events_queued: events,
    }
}

/// CreateFile for overlapped I/O on the DebugPrint interface, as the
/// Monitor opens it.
#[track_caller]
fn open() -> Handle {
    let links = io_get_device_interfaces(&DEBUGPRINT_GUID);
    let path = wdmsim::io::device_path(links.first().expect("the interface is enabled"));
    let access = GENERIC_READ | GENERIC_WRITE;
    let share = FILE_SHARE_READ | FILE_SHARE_WRITE;
    let handle = create_file(&path, access, share, OPEN_EXISTING, FILE_FLAG_OVERLAPPED);
    assert_ne!(handle, INVALID_HANDLE_VALUE, "CreateFile: {}", get_last_error());
    handle
}

#[track_caller]
fn close(handle: Handle) {
    assert!(close_handle(handle), "CloseHandle: {}", get_last_error());
}

fn success(information: usize) -> IoStatusBlock {
    IoStatusBlock { status: STATUS_SUCCESS, information }
}

/// The first `length` bytes of `event`: what a read of `length` bytes gets.
fn prefix(event: &[u8], length: u32) -> Vec<u8> {
    event[..event.len().min(length as usize)].to_vec()
}

/// The start event the device queued at START, checked: driver
/// "DebugPrint", message "Version 1.02 started" (spec 04 §2.11).
fn start_event(node: DeviceNode) -> Vec<u8> {
    let queued = fdo(node).extension::<DebugPrintDeviceExtension>().queued_events();
    assert_eq!(queued.len(), 1, "only the start event is queued after START");
    let decoded = record::decode(&queued[0]).expect("a whole record");
    assert_eq!(decoded.driver, debugprint::NAME.as_bytes());
    assert_eq!(decoded.message, STARTED_MESSAGE.as_bytes());
    assert_eq!(queued[0].len(), 16 + debugprint::NAME.len() + 1 + STARTED_MESSAGE.len() + 1);
    queued[0].clone()
}

/// How a read finished.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Finish {
    /// STATUS_SUCCESS with these bytes; GetOverlappedResult TRUE with
    /// their count.
    Served(Vec<u8>),
    /// STATUS_CANCELLED, 0; GetOverlappedResult FALSE with
    /// ERROR_OPERATION_ABORTED and 0 bytes.
    Cancelled,
    /// Anything else: the status block, and GetOverlappedResult's BOOL,
    /// last error and byte count.
    Other(Option<IoStatusBlock>, bool, u32, u32),
}

/// How `read` finished, if it has; with `wait`, waits for it first.
fn finish_of(read: &Overlapped, length: u32, wait: bool) -> Option<Finish> {
    let mut bytes = u32::MAX;
    let ok = get_overlapped_result(read, &mut bytes, wait);
    let error = if ok { 0 } else { get_last_error() };
    if error == ERROR_IO_INCOMPLETE {
        return None;
    }
    let Some(iosb) = read.io_status() else {
        return Some(Finish::Other(None, ok, error, bytes));
    };
    let data = read.buffer().get(..iosb.information).map(<[u8]>::to_vec);
    Some(match (iosb.status, ok, error, data) {
        (STATUS_SUCCESS, true, _, Some(data))
            if bytes as usize == data.len() && data.len() <= length as usize =>
        {
            Finish::Served(data)
        }
        (STATUS_CANCELLED, false, ERROR_OPERATION_ABORTED, _)
            if iosb.information == 0 && bytes == 0 =>
        {
            Finish::Cancelled
        }
        _ => Finish::Other(Some(iosb), ok, error, bytes),
    })
}

/// Reads every queued event, `MAX_LEN` bytes at a time (no event is
/// longer), on a fresh handle, until a read is held; cancels that one and
/// closes the handle. The events, and the number of reads made.
fn drain() -> (Vec<Vec<u8>>, usize) {
    let h = open();
    let mut events = Vec::new();
    loop {
        let read = read_file_overlapped(h, MAX_LEN, 0);
        match read.status() {
            STATUS_SUCCESS => {
                let iosb = read.io_status().expect("a read completed at once has its status");
                assert_eq!(iosb.status, STATUS_SUCCESS);
                events.push(read.buffer()[..iosb.information].to_vec());
            }
            STATUS_PENDING => {
                assert!(cancel_io(h), "CancelIo: {}", get_last_error());
                let finish = finish_of(&read, MAX_LEN, true);
                assert_eq!(finish, Some(Finish::Cancelled), "the drain's last read");
                close(h);
                let reads = events.len() + 1;
                return (events, reads);
            }
            other => panic!("drain: a read held after every caller finished? {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------
// The trace: every read and write completes once; INV-11

/// One IRP's life in the trace: its major function, where it was sent,
/// whether its dispatch routine pended it, and its completions.
#[derive(Default)]
struct Life {
    major: u8,
    call: usize,
    pended: bool,
    done: Vec<(usize, NtStatus)>,
}

/// Checks every IRP_MJ_READ and IRP_MJ_WRITE of the run: each finished
/// exactly once (INV-03), and each held read that a write served finished
/// while that write was in flight, before it (INV-11). Returns the number
/// of reads sent.
fn check_trace(trace: &Trace) -> Result<usize, String> {
    let mut lives: BTreeMap<u32, Life> = BTreeMap::new();
    for (i, r) in trace.records().iter().enumerate() {
        match r.event {
            TraceEvent::IrpCall { irp, major, .. } => {
                lives.entry(irp).or_insert(Life { major, call: i, ..Life::default() });
            }
            TraceEvent::IrpReturn { irp, status: STATUS_PENDING } => {
                lives.entry(irp).or_default().pended = true;
            }
            TraceEvent::IrpDone { irp, status, .. } => {
                lives.entry(irp).or_default().done.push((i, status));
            }
            _ => {}
        }
    }
    let io: Vec<(&u32, &Life)> =
        lives.iter().filter(|(_, l)| l.major == IRP_MJ_READ || l.major == IRP_MJ_WRITE).collect();
    for (irp, life) in &io {
        if life.done.len() != 1 {
            return Err(format!("IRP {irp} finished {} times", life.done.len()));
        }
    }
    let writes: Vec<(usize, usize)> = io
        .iter()
        .filter(|(_, l)| l.major == IRP_MJ_WRITE)
        .map(|(_, l)| (l.call, l.done[0].0))
        .collect();
    for (irp, life) in &io {
        let (done, status) = life.done[0];
        let served = life.major == IRP_MJ_READ && life.pended && status == STATUS_SUCCESS;
        if served && !writes.iter().any(|&(call, end)| call < done && done < end) {
            return Err(format!("held read IRP {irp} was served outside any write"));
        }
    }
    Ok(io.iter().filter(|(_, l)| l.major == IRP_MJ_READ).count())
}

// ---------------------------------------------------------------------------
// One thread against the model

/// What one call gave the caller.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// WriteFile: what it returned and the status block.
    Wrote(NtStatus, Option<IoStatusBlock>),
    /// ReadFile: what it returned, the bytes (completed at once) or
    /// GetLastError(), and the status block.
    Read(NtStatus, Result<Vec<u8>, u32>, Option<IoStatusBlock>),
    /// CancelIo's BOOL.
    Cancel(bool),
    /// CloseHandle's BOOL and whether CreateFile opened the device again.
    Reopen(bool, bool),
}

/// An outcome, the reads held before the call that finished during it,
/// and the device state after it.
#[derive(Debug, PartialEq, Eq)]
struct Step {
    outcome: Outcome,
    finished: Vec<Finish>,
    state: DebugPrintState,
}

/// What the end of a sequence found: the events the drain read, and the
/// device state once every handle was closed.
#[derive(Debug, PartialEq, Eq)]
struct End {
    drained: Vec<Vec<u8>>,
    state: DebugPrintState,
}

/// The driver as spec 04 §2.4–2.10 describes it to one caller.
struct Model {
    /// EventList, oldest first.
    events: VecDeque<Vec<u8>>,
    /// The held read: its handle and length.
    held: Option<(usize, u32)>,
}

impl Model {
    fn new(start_event: Vec<u8>) -> Model {
        Model { events: VecDeque::from([start_event]), held: None }
    }

    fn apply(&mut self, op: &Op) -> Step {
        let mut finished = Vec::new();
        let outcome = match op {
            Op::Write(_, data) => {
                // A 0-byte write makes no event and leaves a held read
                // alone (§2.6 step 3); otherwise its event goes to the
                // tail and a held read takes the head (§2.6, §2.8).
                if !data.is_empty() {
                    self.events.push_back(data.clone());
                    if let Some((_, length)) = self.held.take() {
                        let event = self.events.pop_front().expect("just queued");
                        finished.push(Finish::Served(prefix(&event, length)));
                    }
                }
                Outcome::Wrote(STATUS_SUCCESS, Some(success(data.len())))
            }
            Op::Read(h, length) => {
                if self.held.is_some() {
                    // INV-01: one read held device-wide (§2.4).
                    Outcome::Read(STATUS_UNSUCCESSFUL, Err(GEN_FAILURE), None)
                } else if let Some(event) = self.events.pop_front() {
                    let data = prefix(&event, *length);
                    let iosb = Some(success(data.len()));
                    Outcome::Read(STATUS_SUCCESS, Ok(data), iosb)
                } else {
                    self.held = Some((*h, *length));
                    Outcome::Read(STATUS_PENDING, Err(ERROR_IO_PENDING), None)
                }
            }
            Op::Cancel(h) | Op::Reopen(h) => {
                // CancelIo (DbpCancelIrp) or cleanup (DbpCleanup) of the
                // handle whose read is held cancels it; no event moves.
                if self.held.is_some_and(|(held, _)| held == *h) {
                    self.held = None;
                    finished.push(Finish::Cancelled);
                }
                match op {
                    Op::Cancel(_) => Outcome::Cancel(true),
                    _ => Outcome::Reopen(true, true),
                }
            }
        };
        Step { outcome, finished, state: settled(2, self.events.len(), self.held.is_some()) }
    }
}

/// Two handles used by the scenario thread, and its reads in flight.
struct Rig {
    node: DeviceNode,
    handles: [Handle; 2],
    pending: Vec<(u32, Overlapped)>,
}

impl Rig {
    fn apply(&mut self, op: &Op) -> Step {
        let outcome = match op {
            Op::Write(h, data) => {
                let write = write_file_overlapped(self.handles[*h], data, 0);
                Outcome::Wrote(write.status(), write.io_status())
            }
            Op::Read(h, length) => {
                let read = read_file_overlapped(self.handles[*h], *length, 0);
                let result = if read.started() {
                    let n = read.io_status().map_or(0, |iosb| iosb.information);
                    Ok(read.buffer()[..n].to_vec())
                } else {
                    Err(get_last_error())
                };
                let outcome = Outcome::Read(read.status(), result, read.io_status());
                if read.status() == STATUS_PENDING {
                    self.pending.push((*length, read));
                }
                outcome
            }
            Op::Cancel(h) => Outcome::Cancel(cancel_io(self.handles[*h])),
            Op::Reopen(h) => {
                let closed = close_handle(self.handles[*h]);
                self.handles[*h] = open();
                Outcome::Reopen(closed, true)
            }
        };
        let mut finished = Vec::new();
        self.pending.retain(|(length, read)| match finish_of(read, *length, false) {
            Some(finish) => {
                finished.push(finish);
                false
            }
            None => true,
        });
        Step { outcome, finished, state: state(self.node) }
    }
}

/// Runs `ops` from the scenario thread: the start event, each step, the
/// end (after CancelIo on both handles, the drain, and the closes) and
/// the number of reads the drain made.
fn run_on_one_thread(
    ops: Vec<Op>,
    processors: u32,
    seed: u64,
) -> wdmsim::Run<(Vec<u8>, Vec<Step>, End, usize)> {
    Machine::sim().processors(processors).seed(seed).run(move || {
        let node = add();
        let start = start_event(node);
        let mut rig = Rig { node, handles: [open(), open()], pending: Vec::new() };
        let mut steps = Vec::new();
        for (i, op) in ops.iter().chain(&[Op::Cancel(0), Op::Cancel(1)]).enumerate() {
            dbg_print("model", format_args!("op {i}: {}", op.line()));
            steps.push(rig.apply(op));
        }
        assert!(rig.pending.is_empty(), "reads still held after CancelIo on both handles");
        let (drained, drain_reads) = drain();
        for h in rig.handles {
            close(h);
        }
        let end = End { drained, state: state(node) };
        assert_eq!(pnp::remove_device(node), Ok(()));
        (start, steps, end, drain_reads)
    })
}

// ---------------------------------------------------------------------------
// Two threads, one per handle

/// A read that got an event: its length and the bytes it got.
type Taken = (u32, Vec<u8>);

/// How one read of a thread ended: its length, whether it completed at
/// once (else it was held), and how.
#[derive(Debug)]
struct ReadEnd {
    length: u32,
    at_once: bool,
    finish: Finish,
}

/// What one thread saw on its handle.
#[derive(Default)]
struct Seen {
    /// Its non-empty writes, in its order.
    written: Vec<Vec<u8>>,
    /// Its reads that were completed at once or held, in its order.
    reads: Vec<ReadEnd>,
    /// Its reads refused at once (STATUS_UNSUCCESSFUL).
    refused: usize,
}

impl Seen {
    /// The reads that got an event, in issue order, which is the order
    /// they took their events: a thread's next read is refused while its
    /// held read is in the slot, and ReadIrpLock orders taking a read out
    /// of the slot against a new read.
    fn served(&self) -> Vec<Taken> {
        self.reads
            .iter()
            .filter_map(|r| match &r.finish {
                Finish::Served(data) => Some((r.length, data.clone())),
                _ => None,
            })
            .collect()
    }
}

/// One thread's operations on its own handle. Every check here is on one
/// call (its Win32 result and status block); the events are matched
/// across threads afterwards. At the end it cancels its reads, waits for
/// every one and returns its (open) handle.
fn worker(mut h: Handle, name: &'static str, ops: Vec<Op>) -> (Handle, Seen) {
    let mut seen = Seen::default();
    // Reads completed at once (true) or held (false), in issue order.
    let mut reads: Vec<(u32, bool, Overlapped)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        dbg_print("model", format_args!("{name} op {i}: {}", op.line()));
        match op {
            Op::Write(_, data) => {
                let write = write_file_overlapped(h, data, 0);
                let expected = (STATUS_SUCCESS, Some(success(data.len())));
                assert_eq!((write.status(), write.io_status()), expected, "{name} op {i}");
                if !data.is_empty() {
                    seen.written.push(data.clone());
                }
            }
            Op::Read(_, length) => {
                let read = read_file_overlapped(h, *length, 0);
                match read.status() {
                    STATUS_SUCCESS => {
                        assert!(read.started(), "{name} op {i}");
                        reads.push((*length, true, read));
                    }
                    STATUS_PENDING => {
                        assert!(!read.started(), "{name} op {i}");
                        assert_eq!(get_last_error(), ERROR_IO_PENDING, "{name} op {i}");
                        reads.push((*length, false, read));
                    }
                    STATUS_UNSUCCESSFUL => {
                        // INV-01: another read was held.
                        assert!(!read.started(), "{name} op {i}");
                        assert_eq!(get_last_error(), GEN_FAILURE, "{name} op {i}");
                        assert_eq!(read.io_status(), None, "{name} op {i}: no status block");
                        seen.refused += 1;
                    }
                    other => panic!("{name} op {i}: ReadFile returned {other:?}"),
                }
            }
            Op::Cancel(_) => assert!(cancel_io(h), "{name} op {i}: {}", get_last_error()),
            Op::Reopen(_) => {
                close(h);
                h = open();
            }
        }
    }
    // Reads held on handles closed since were cancelled by cleanup or
    // served; this cancels the last handle's.
    assert!(cancel_io(h), "{name}: {}", get_last_error());
    for (length, at_once, read) in reads {
        let finish = finish_of(&read, length, true).expect("waited for");
        seen.reads.push(ReadEnd { length, at_once, finish });
    }
    (h, seen)
}

/// What a two-thread run gives: the start event, what each thread saw,
/// the drain's events and read count, and the device state at the end.
struct Raced {
    start: Vec<u8>,
    seen: [Seen; 2],
    drained: Vec<Vec<u8>>,
    drain_reads: usize,
    end: DebugPrintState,
}

/// Runs each thread's share of `ops` (by handle) on its own thread at
/// once; then drains, closes every handle and waits for the last CLOSE
/// (one deferred while a read was in flight comes from a system thread).
fn run_on_two_threads(ops: Vec<Op>, processors: u32, seed: u64) -> wdmsim::Run<Raced> {
    Machine::sim().processors(processors).seed(seed).run(move || {
        let node = add();
        let start = start_event(node);
        let share = |h: usize| ops.iter().filter(|op| op.handle() == h).cloned().collect();
        let (a, b) = (open(), open());
        let (ops_a, ops_b): (Vec<Op>, Vec<Op>) = (share(0), share(1));
        let a = spawn(move || worker(a, "A", ops_a));
        let b = spawn(move || worker(b, "B", ops_b));
        let ((a, seen_a), (b, seen_b)) = (a.join(), b.join());
        let (drained, drain_reads) = drain();
        close(a);
        close(b);
        for _ in 0..1000 {
            if state(node).open_handle_count == 0 {
                break;
            }
            ke_delay_execution_thread(Interval::relative_ms(1));
        }
        let end = state(node);
        assert_eq!(pnp::remove_device(node), Ok(()));
        Raced { start, seen: [seen_a, seen_b], drained, drain_reads, end }
    })
}

/// Whether the events read (a merge of `read[0]` and `read[1]`, each a
/// thread's reads in its order, then the drain's `read[2]`) are one by one
/// the prefixes, `min(event, read)` bytes, of the events written (`start`,
/// then a merge of `written[0]` and `written[1]`, each a thread's writes
/// in its order), each written event taken exactly once. A search over
/// both merges, remembering the states that failed.
fn delivered_in_order(start: &[u8], written: [&[Vec<u8>]; 2], read: [&[Taken]; 3]) -> bool {
    struct Search<'a> {
        start: &'a [u8],
        written: [&'a [Vec<u8>]; 2],
        read: [&'a [Taken]; 3],
        failed: BTreeSet<[usize; 4]>,
    }
    impl Search<'_> {
        /// `taken` reads of each sequence matched, `x` of the first
        /// thread's writes among the events they took.
        fn go(&mut self, taken: [usize; 3], x: usize) -> bool {
            let [a, b, d] = taken;
            let k = a + b + d;
            let [wa, wb] = self.written;
            let [ra, rb, rd] = self.read;
            if (a, b, d) == (ra.len(), rb.len(), rd.len()) {
                return k == 1 + wa.len() + wb.len();
            }
            if !self.failed.insert([a, b, d, x]) {
                return false;
            }
            // The next read: from either thread, or the drain once both
            // threads' reads are used.
            let mut next: Vec<([usize; 3], &Taken)> = Vec::new();
            if let Some(r) = ra.get(a) {
                next.push(([a + 1, b, d], r));
            }
            if let Some(r) = rb.get(b) {
                next.push(([a, b + 1, d], r));
            }
            if next.is_empty() {
                next.push(([a, b, d + 1], &rd[d]));
            }
            // The event it took: the start event first, then the next
            // write of either thread.
            let mut events: Vec<(usize, &[u8])> = Vec::new();
            if k == 0 {
                events.push((0, self.start));
            } else {
                if let Some(e) = wa.get(x) {
                    events.push((1, e));
                }
                if let Some(e) = (k - 1).checked_sub(x).and_then(|y| wb.get(y)) {
                    events.push((0, e));
                }
            }
            for (taken, (length, data)) in next {
                for &(dx, event) in &events {
                    if *data == prefix(event, *length) && self.go(taken, x + dx) {
                        return true;
                    }
                }
            }
            false
        }
    }
    Search { start, written, read, failed: BTreeSet::new() }.go([0, 0, 0], 0)
}

// ---------------------------------------------------------------------------
// The properties

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1500,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// One thread: every call's outcome, every held read's completion and
    /// the device state after every call agree with the model; the drain
    /// gets what the model still holds; the end state is idle.
    #[test]
    fn sequences_on_one_thread_match_a_model_of_debugprint(
        ops in ops_strategy(),
        processors in 2u32..=4,
        seed in any::<u64>(),
    ) {
        let run = run_on_one_thread(ops.clone(), processors, seed);
        prop_assert!(run.is_ok(), "ops:\n{}{}", listing(&ops), run.report());
        prop_assert!(run.warnings.is_empty(), "{:?}; replay: {}", run.warnings, run.replay);
        let reads = check_trace(&run.trace);
        let replay = run.replay.clone();
        let (start, steps, end, drain_reads) = run.value();
        let mut model = Model::new(start);
        let all: Vec<Op> = ops.iter().cloned().chain([Op::Cancel(0), Op::Cancel(1)]).collect();
        prop_assert_eq!(steps.len(), all.len());
        for (i, (op, got)) in all.iter().zip(&steps).enumerate() {
            let want = model.apply(op);
            prop_assert_eq!(
                got,
                &want,
                "op {} ({}) differs from the model of spec 04 §2.4–2.10; replay: {}; ops:\n{}",
                i,
                op.line(),
                replay,
                listing(&ops)
            );
        }
        let want = End { drained: model.events.into(), state: settled(0, 0, false) };
        prop_assert_eq!(end, want, "end; replay: {}; ops:\n{}", replay, listing(&ops));
        let issued = all.iter().filter(|op| matches!(op, Op::Read(..))).count() + drain_reads;
        prop_assert_eq!(reads, Ok(issued), "read IRPs in the trace; replay: {}", replay);
    }

    /// Two threads, one per handle, racing: each read completes exactly
    /// once, with an event's prefix or cancelled with 0 bytes; the events
    /// come out once each, the start event first, then every write in
    /// an order that keeps each thread's; the end state is idle.
    #[test]
    fn two_threads_racing_keep_the_invariants_of_debugprint(
        ops in ops_strategy(),
        processors in 2u32..=4,
        seed in any::<u64>(),
    ) {
        let run = run_on_two_threads(ops.clone(), processors, seed);
        prop_assert!(run.is_ok(), "ops:\n{}{}", listing(&ops), run.report());
        prop_assert!(run.warnings.is_empty(), "{:?}; replay: {}", run.warnings, run.replay);
        let reads = check_trace(&run.trace);
        let replay = run.replay.clone();
        let raced = run.value();
        let context = format!("replay: {replay}; ops:\n{}", listing(&ops));
        for seen in &raced.seen {
            for read in &seen.reads {
                let fine = match read.finish {
                    Finish::Served(_) => true,
                    Finish::Cancelled => !read.at_once,
                    Finish::Other(..) => false,
                };
                prop_assert!(fine, "{:?}; {}", read, context);
            }
        }
        let [a, b] = &raced.seen;
        let drained: Vec<Taken> =
            raced.drained.iter().map(|e| (MAX_LEN, e.clone())).collect();
        let in_order = delivered_in_order(
            &raced.start,
            [&a.written, &b.written],
            [&a.served(), &b.served(), &drained],
        );
        prop_assert!(
            in_order,
            "the events read are not the start event then the writes in order, once each: \
             A wrote {:?}, read {:?}; B wrote {:?}, read {:?}; drained {:?}; {}",
            a.written.iter().map(Vec::len).collect::<Vec<_>>(),
            a.served().iter().map(|(n, d)| (*n, d.len())).collect::<Vec<_>>(),
            b.written.iter().map(Vec::len).collect::<Vec<_>>(),
            b.served().iter().map(|(n, d)| (*n, d.len())).collect::<Vec<_>>(),
            raced.drained.iter().map(Vec::len).collect::<Vec<_>>(),
            context
        );
        prop_assert_eq!(raced.end, settled(0, 0, false), "end; {}", context);
        let issued = a.reads.len() + a.refused + b.reads.len() + b.refused + raced.drain_reads;
        prop_assert_eq!(reads, Ok(issued), "read IRPs in the trace; {}", context);
    }
}
