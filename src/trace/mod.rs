//! The recording: every scheduling decision and kernel event of a run.
//!
//! Records are small fixed-size values (object and thread numbers, no
//! strings); names live once in the trace's object table. A trace prints one
//! line per record, and two runs of the same seed print byte-identical text.

use std::fmt;

use crate::ke::Irql;
use crate::ob::{ObjectId, ObjectInfo};
use crate::sim::clock::format_ticks;
use crate::sim::sched::Choice;
use crate::status::NtStatus;

/// One kernel event or scheduling decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The scheduler picked `choice`, one of `of` enabled choices.
    Pick {
        choice: Choice,
        of: u16,
    },
    /// Nothing could run: virtual time jumped to the next timer.
    ClockJump {
        to_ticks: u64,
    },
    ThreadCreate {
        thread: u32,
    },
    ThreadExit {
        thread: u32,
    },
    Irql {
        cpu: u32,
        from: Irql,
        to: Irql,
    },
    SpinAcquire {
        cpu: u32,
        lock: ObjectId,
    },
    /// The lock is held by `holder`: the processor spins.
    SpinWait {
        cpu: u32,
        lock: ObjectId,
        holder: u32,
    },
    SpinRelease {
        cpu: u32,
        lock: ObjectId,
    },
    /// KeInsertQueueDpc; `queued` is false if it was already queued.
    DpcQueue {
        cpu: u32,
        dpc: ObjectId,
        queued: bool,
    },
    DpcRemove {
        dpc: ObjectId,
        removed: bool,
    },
    DpcRun {
        cpu: u32,
        dpc: ObjectId,
    },
    TimerSet {
        timer: ObjectId,
        due_ticks: u64,
        period_ms: u32,
    },
    TimerCancel {
        timer: ObjectId,
        was_set: bool,
    },
    TimerExpire {
        timer: ObjectId,
    },
    EventSet {
        event: ObjectId,
        was_signaled: bool,
    },
    EventReset {
        event: ObjectId,
        was_signaled: bool,
    },
    /// A thread blocks on `count` objects, the first being `object`.
    WaitBlock {
        thread: u32,
        object: Option<ObjectId>,
        count: u8,
    },
    WaitEnd {
        thread: u32,
        status: NtStatus,
    },
    Stall {
        cpu: u32,
        ticks: u64,
    },
    InterruptRequest {
        irq: u8,
    },
    IsrEnter {
        cpu: u32,
        irq: u8,
        from: Irql,
    },
    IsrExit {
        cpu: u32,
        irq: u8,
        claimed: bool,
    },
    /// No connected ISR claimed the interrupt (or none was connected).
    Unclaimed {
        irq: u8,
    },
    Yield {
        cpu: u32,
    },
    BugCheck {
        code: u32,
        param1: u64,
    },
    /// IoCallDriver sent `irp` to `device` at stack `location`.
    IrpCall {
        irp: u32,
        device: ObjectId,
        major: u8,
        minor: u8,
        location: u8,
    },
    /// The dispatch routine for `irp` returned.
    IrpReturn {
        irp: u32,
        status: NtStatus,
    },
    /// IoCompleteRequest from stack `location`.
    IrpComplete {
        irp: u32,
        status: NtStatus,
        location: u8,
    },
    /// Completion reached the top: the I/O manager finished the request.
    IrpDone {
        irp: u32,
        status: NtStatus,
        information: u64,
    },
    /// A driver's debug print line (DbgPrint): indexes into the trace's
    /// string table.
    Print {
        source: u32,
        text: u32,
    },
    /// A verifier warning (string table index).
    Warning {
        text: u32,
    },
}

/// An event stamped with the virtual time it happened at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub at_ticks: u64,
    pub event: Event,
}

/// A run's recording and the names it refers to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    enabled: bool,
    records: Vec<Record>,
    objects: Vec<ObjectInfo>,
    threads: Vec<Option<&'static str>>,
    strings: Vec<String>,
}

impl Trace {
    pub(crate) fn new(enabled: bool) -> Trace {
        Trace { enabled, ..Trace::default() }
    }

    #[inline]
    pub(crate) fn record(&mut self, at_ticks: u64, event: Event) {
        if self.enabled {
            self.records.push(Record { at_ticks, event });
        }
    }

    /// Whether events are being recorded.
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Keeps `text` in the string table and returns its index.
    pub(crate) fn add_string(&mut self, text: String) -> u32 {
        self.strings.push(text);
        self.strings.len() as u32 - 1
    }

    /// A string-table entry.
    pub fn string(&self, index: u32) -> &str {
        self.strings.get(index as usize).map_or("", String::as_str)
    }

    /// Every print line, as (source, text), in order.
    pub fn prints(&self) -> Vec<(&str, &str)> {
        self.records
            .iter()
            .filter_map(|r| match r.event {
                Event::Print { source, text } => Some((self.string(source), self.string(text))),
                _ => None,
            })
            .collect()
    }

    pub(crate) fn set_objects(&mut self, objects: Vec<ObjectInfo>) {
        self.objects = objects;
    }

    pub(crate) fn add_thread(&mut self, name: Option<&'static str>) -> u32 {
        self.threads.push(name);
        self.threads.len() as u32 - 1
    }

    pub fn records(&self) -> &[Record] {
        &self.records
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The name table entry of an object.
    pub fn object(&self, id: ObjectId) -> Option<&ObjectInfo> {
        self.objects.get(id.0 as usize)
    }

    /// `lock "A"`, `event#4`, or `object#N` for an unknown id.
    pub fn describe(&self, id: ObjectId) -> String {
        match self.object(id) {
            Some(info) => info.describe(id).to_string(),
            None => format!("object#{}", id.0),
        }
    }

    /// `thread 2 "worker"` or `thread 2`.
    pub fn describe_thread(&self, thread: u32) -> String {
        match self.threads.get(thread as usize).copied().flatten() {
            Some(name) => format!("thread {thread} \"{name}\""),
            None => format!("thread {thread}"),
        }
    }

    /// One record as its trace line (without the time stamp).
    pub fn line(&self, event: &Event) -> String {
        let o = |id: ObjectId| self.describe(id);
        let t = |n: u32| self.describe_thread(n);
        match *event {
            Event::Pick { choice, of } => format!("pick {choice} (of {of})"),
            Event::ClockJump { to_ticks } => format!("clock jumps to {}", format_ticks(to_ticks)),
            Event::ThreadCreate { thread } => format!("create {}", t(thread)),
            Event::ThreadExit { thread } => format!("exit {}", t(thread)),
            Event::Irql { cpu, from, to } => format!("cpu{cpu} irql {from} -> {to}"),
            Event::SpinAcquire { cpu, lock } => format!("cpu{cpu} acquire {}", o(lock)),
            Event::SpinWait { cpu, lock, holder } => {
                format!("cpu{cpu} spins on {} held by cpu{holder}", o(lock))
            }
            Event::SpinRelease { cpu, lock } => format!("cpu{cpu} release {}", o(lock)),
            Event::DpcQueue { cpu, dpc, queued } => {
                let what = if queued { "queued" } else { "already queued" };
                format!("cpu{cpu} {} {what}", o(dpc))
            }
            Event::DpcRemove { dpc, removed } => {
                format!("{} {}", o(dpc), if removed { "removed" } else { "was not queued" })
            }
            Event::DpcRun { cpu, dpc } => format!("cpu{cpu} runs {}", o(dpc)),
            Event::TimerSet { timer, due_ticks, period_ms } => {
                format!("{} set due {} period {period_ms} ms", o(timer), format_ticks(due_ticks))
            }
            Event::TimerCancel { timer, was_set } => {
                format!("{} cancelled{}", o(timer), if was_set { "" } else { " (was not set)" })
            }
            Event::TimerExpire { timer } => format!("{} expires", o(timer)),
            Event::EventSet { event, was_signaled } => {
                format!("{} set (was {})", o(event), state(was_signaled))
            }
            Event::EventReset { event, was_signaled } => {
                format!("{} reset (was {})", o(event), state(was_signaled))
            }
            Event::WaitBlock { thread, object, count } => match object {
                Some(first) if count == 1 => format!("{} waits on {}", t(thread), o(first)),
                Some(first) => {
                    format!("{} waits on {} and {} more", t(thread), o(first), count - 1)
                }
                None => format!("{} delays", t(thread)),
            },
            Event::WaitEnd { thread, status } => format!("{} wakes: {status:?}", t(thread)),
            Event::Stall { cpu, ticks } => format!("cpu{cpu} stalls {}", format_ticks(ticks)),
            Event::InterruptRequest { irq } => format!("irq{irq} requested"),
            Event::IsrEnter { cpu, irq, from } => {
                format!("cpu{cpu} takes irq{irq} (was at {from})")
            }
            Event::IsrExit { cpu, irq, claimed } => {
                format!("cpu{cpu} irq{irq} {}", if claimed { "claimed" } else { "not claimed" })
            }
            Event::Unclaimed { irq } => format!("irq{irq} unclaimed"),
            Event::Yield { cpu } => format!("cpu{cpu} yields"),
            Event::BugCheck { code, param1 } => format!("BUG CHECK {code:#X} ({param1:#X})"),
            Event::IrpCall { irp, device, major, minor, location } => format!(
                "IRP {irp} {} to {} at location {location}",
                crate::io::codes::function_name(major, minor),
                o(device)
            ),
            Event::IrpReturn { irp, status } => format!("IRP {irp} dispatch returned {status:?}"),
            Event::IrpComplete { irp, status, location } => {
                format!("IRP {irp} completed at location {location} with {status:?}")
            }
            Event::IrpDone { irp, status, information } => {
                format!("IRP {irp} done: {status:?}, {information} bytes")
            }
            Event::Print { source, text } => {
                format!("{}: {}", self.string(source), self.string(text))
            }
            Event::Warning { text } => format!("WARNING {}", self.string(text)),
        }
    }

    /// The last `n` records, printed.
    pub fn tail(&self, n: usize) -> String {
        let start = self.records.len().saturating_sub(n);
        self.render(&self.records[start..])
    }

    fn render(&self, records: &[Record]) -> String {
        let mut out = String::new();
        for r in records {
            out.push_str(&format_ticks(r.at_ticks));
            out.push(' ');
            out.push_str(&self.line(&r.event));
            out.push('\n');
        }
        out
    }
}

fn state(signaled: bool) -> &'static str {
    if signaled { "signaled" } else { "not signaled" }
}

impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(&self.records))
    }
}
