//! The state of one simulated machine: processors, threads, timers,
//! interrupt lines, the trace. It lives in a thread-local for the duration
//! of a run so that kernel calls made deep inside driver code reach it; the
//! scheduler loop (run.rs) and the kernel calls take turns with it, never
//! holding it across a fiber switch.

use std::any::Any;
use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use super::sched::{Choice, Enabled, Task};
use super::{Failure, SimConfig};
use crate::ke::dispatcher::{DispatcherHeader, try_satisfy};
use crate::ke::dpc::DpcInner;
use crate::ke::interrupt::InterruptInner;
use crate::ke::timer::TimerInner;
use crate::ke::{DISPATCH_LEVEL, Irql, PASSIVE_LEVEL};
use crate::ob::{Arena, Id, ObjectId, ObjectInfo};
use crate::status::{NtStatus, STATUS_SUCCESS, STATUS_TIMEOUT};
use crate::trace::{Event, Trace};

/// The handle of a simulated thread's record.
pub(crate) type ThreadId = Id<ThreadRec>;

/// Index of a fiber in the scheduler's fiber table.
pub(crate) type FiberId = u32;

/// Interrupt lines the simulated interrupt controller has (ISA IRQ 0–15).
pub(crate) const IRQ_LINES: usize = 16;

thread_local! {
    static SIM: RefCell<Option<Box<SimState>>> = const { RefCell::new(None) };
    /// Names of the run's kernel objects. Kept apart from `SIM` so that an
    /// object met for the first time inside a state update can be numbered
    /// without re-entering the state.
    static OBJECTS: RefCell<Vec<ObjectInfo>> = const { RefCell::new(Vec::new()) };
}

pub(crate) fn register_object(info: ObjectInfo) -> ObjectId {
    OBJECTS.with(|objects| {
        let mut objects = objects.borrow_mut();
        objects.push(info);
        ObjectId(objects.len() as u32 - 1)
    })
}

/// `lock "A"` or `event#3`, during a run.
pub(crate) fn describe_object(id: ObjectId) -> String {
    OBJECTS.with(|objects| match objects.borrow().get(id.0 as usize) {
        Some(info) => info.describe(id).to_string(),
        None => format!("object#{}", id.0),
    })
}

/// Runs `f` on the simulation state of this OS thread.
#[inline]
pub(crate) fn with_sim<R>(f: impl FnOnce(&mut SimState) -> R) -> R {
    SIM.with(|cell| {
        let mut guard = cell.borrow_mut();
        let state = guard.as_deref_mut().expect("wdmsim: no simulation on this thread");
        f(state)
    })
}

pub(crate) fn install(state: Box<SimState>) {
    OBJECTS.with(|objects| objects.borrow_mut().clear());
    SIM.with(|cell| {
        let mut slot = cell.borrow_mut();
        assert!(slot.is_none(), "wdmsim: a simulation is already running on this thread");
        *slot = Some(state);
    });
}

/// Removes the state; the object names move into its trace.
pub(crate) fn uninstall() -> Box<SimState> {
    let mut state =
        SIM.with(|cell| cell.borrow_mut().take()).expect("wdmsim: no simulation to uninstall");
    state.trace.set_objects(OBJECTS.with(|objects| std::mem::take(&mut *objects.borrow_mut())));
    state
}

/// A processor.
#[derive(Debug)]
pub(crate) struct Cpu {
    pub irql: Irql,
    /// What runs on it: a thread at the bottom, DPC and ISR frames above.
    pub frames: Vec<Frame>,
    pub dpcs: VecDeque<Arc<DpcInner>>,
}

/// Code running on a processor: a thread, or a DPC drain or an ISR that
/// interrupted whatever was below it.
#[derive(Debug)]
pub(crate) struct Frame {
    pub fiber: FiberId,
    pub kind: FrameKind,
    /// The processor's IRQL when a DPC or ISR frame was pushed, restored
    /// when it returns.
    pub irql_entry: Irql,
    pub state: FrameState,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameKind {
    Thread(ThreadId),
    Dpc,
    Isr(u8),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FrameState {
    Runnable,
    /// Spinning on a spin lock another processor holds.
    Spinning(ObjectId),
    /// The thread registered a wait and will leave the processor.
    Blocked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ThreadState {
    Ready,
    Running(u32),
    Waiting,
    Terminated,
}

/// A simulated thread.
#[derive(Debug)]
pub(crate) struct ThreadRec {
    /// Never reused within a run; what traces print.
    pub number: u32,
    pub fiber: Option<FiberId>,
    pub state: ThreadState,
    /// The thread's IRQL while it is off its processor (PASSIVE or APC).
    pub irql: Irql,
    pub wait: Option<WaitBlock>,
    pub wait_status: NtStatus,
    /// The thread's Win32 last error (GetLastError).
    pub last_error: u32,
    /// The thread object, signaled when the thread ends.
    pub object: Arc<DispatcherHeader>,
    /// A background thread does not keep the run going: once only
    /// background threads are left, all waiting, the run is over.
    pub background: bool,
}

/// What a blocked thread waits for.
#[derive(Debug)]
pub(crate) struct WaitBlock {
    pub objects: Vec<Arc<DispatcherHeader>>,
    pub wait_all: bool,
    pub timer: Option<TimerKey>,
    /// The status a time-out ends the wait with (STATUS_TIMEOUT for
    /// KeWaitFor…Object(s), STATUS_SUCCESS for KeDelayExecutionThread).
    pub timeout_status: NtStatus,
}

/// A thread body waiting for the scheduler to give it a fiber.
pub(crate) struct Spawn {
    pub thread: ThreadId,
    pub body: Box<dyn FnOnce()>,
}

impl std::fmt::Debug for Spawn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spawn").field("thread", &self.thread).finish()
    }
}

/// Position in the timer queue: due time, then insertion order.
pub(crate) type TimerKey = (u64, u64);

/// Something due at a virtual time.
#[derive(Debug)]
pub(crate) enum TimerEntry {
    Timer(Arc<TimerInner>),
    WaitTimeout(ThreadId),
    /// A hardware interrupt request on an IRQ line.
    Interrupt(u8),
}

/// One line of the simulated interrupt controller.
#[derive(Debug, Default)]
pub(crate) struct Line {
    /// Connected interrupt objects, in connection order.
    pub objects: Vec<Arc<InterruptInner>>,
    /// A latched (edge) request waiting for delivery.
    pub pending: bool,
    /// A level-sensitive line held asserted by its device.
    pub asserted: bool,
    /// An ISR for this line is running (the controller's in-service bit):
    /// the line is not delivered again until it returns.
    pub in_service: bool,
}

impl Line {
    /// The IRQL, affinity of the line: those of its first connection.
    fn target(&self) -> Option<(Irql, u64)> {
        self.objects.first().map(|o| (o.irql, o.affinity))
    }

    fn requested(&self) -> bool {
        self.pending || self.asserted
    }
}

/// Why a run stopped early.
#[derive(Debug)]
pub(crate) enum Stop {
    Failure(Failure),
    Panic(Box<dyn Any + Send>),
}

pub(crate) struct SimState {
    pub config: SimConfig,
    pub now_ticks: u64,
    pub step: u64,
    pub cpus: Vec<Cpu>,
    /// The processor whose frame is running, while one is.
    pub current: Option<u32>,
    pub threads: Arena<ThreadRec>,
    pub ready: VecDeque<ThreadId>,
    pub spawns: Vec<Spawn>,
    /// Spin locks held, and by which processor.
    pub locks: BTreeMap<ObjectId, u32>,
    /// Threads waiting on each dispatcher object, in wait order.
    pub waiting: BTreeMap<ObjectId, VecDeque<ThreadId>>,
    pub timers: BTreeMap<TimerKey, TimerEntry>,
    pub timer_seq: u64,
    pub lines: Vec<Line>,
    pub trace: Trace,
    pub stop: Option<Stop>,
    /// Set when the run is over: kernel calls become inert so that
    /// destructors run while suspended fibers unwind do no harm.
    pub halted: bool,
}

impl std::fmt::Debug for SimState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimState")
            .field("now_ticks", &self.now_ticks)
            .field("step", &self.step)
            .field("cpus", &self.cpus)
            .finish_non_exhaustive()
    }
}

impl SimState {
    pub(crate) fn new(config: SimConfig) -> SimState {
        let cpus = (0..config.processors)
            .map(|_| Cpu { irql: PASSIVE_LEVEL, frames: Vec::new(), dpcs: VecDeque::new() })
            .collect();
        SimState {
            now_ticks: 0,
            step: 0,
            cpus,
            current: None,
            threads: Arena::new(),
            ready: VecDeque::new(),
            spawns: Vec::new(),
            locks: BTreeMap::new(),
            waiting: BTreeMap::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
            lines: (0..IRQ_LINES).map(|_| Line::default()).collect(),
            trace: Trace::new(config.trace),
            stop: None,
            halted: false,
            config,
        }
    }

    #[inline]
    pub(crate) fn record(&mut self, event: Event) {
        self.trace.record(self.now_ticks, event);
    }

    /// Stops the run (the first stop wins) and makes kernel calls inert.
    pub(crate) fn stop(&mut self, stop: Stop) {
        if self.stop.is_none() {
            self.stop = Some(stop);
        }
        self.halted = true;
    }

    // ---- threads ----------------------------------------------------------

    /// Creates a ready thread that will run `body`.
    pub(crate) fn create_thread(
        &mut self,
        name: Option<&'static str>,
        object: Arc<DispatcherHeader>,
        background: bool,
        body: Box<dyn FnOnce()>,
    ) -> ThreadId {
        let number = self.trace.add_thread(name);
        let thread = self.threads.insert(ThreadRec {
            number,
            fiber: None,
            state: ThreadState::Ready,
            irql: PASSIVE_LEVEL,
            wait: None,
            wait_status: STATUS_SUCCESS,
            last_error: 0,
            object,
            background,
        });
        self.spawns.push(Spawn { thread, body });
        self.record(Event::ThreadCreate { thread: number });
        thread
    }

    /// The thread the current processor runs (under any DPC or ISR frames).
    pub(crate) fn current_thread(&self) -> Option<ThreadId> {
        let cpu = &self.cpus[self.current? as usize];
        match cpu.frames.first()?.kind {
            FrameKind::Thread(t) => Some(t),
            _ => None,
        }
    }

    pub(crate) fn thread_number(&self, thread: ThreadId) -> u32 {
        self.threads.get(thread).map_or(u32::MAX, |t| t.number)
    }

    pub(crate) fn top_frame_mut(&mut self) -> Option<&mut Frame> {
        let cpu = self.current?;
        self.cpus[cpu as usize].frames.last_mut()
    }

    /// Blocks the running thread on `wait`; it leaves its processor when it
    /// next suspends.
    pub(crate) fn block_current(&mut self, thread: ThreadId, wait: WaitBlock) {
        for object in &wait.objects {
            self.waiting.entry(object.id()).or_default().push_back(thread);
        }
        if let Some(rec) = self.threads.get_mut(thread) {
            rec.state = ThreadState::Waiting;
            rec.wait = Some(wait);
        }
        if let Some(frame) = self.top_frame_mut() {
            frame.state = FrameState::Blocked;
        }
    }

    /// Ends `thread`'s wait with `status` and makes it ready.
    pub(crate) fn end_wait(&mut self, thread: ThreadId, status: NtStatus) {
        let Some(rec) = self.threads.get_mut(thread) else { return };
        let Some(wait) = rec.wait.take() else { return };
        rec.wait_status = status;
        rec.state = ThreadState::Ready;
        let number = rec.number;
        for object in &wait.objects {
            let id = object.id();
            if let Some(queue) = self.waiting.get_mut(&id) {
                queue.retain(|&t| t != thread);
                if queue.is_empty() {
                    self.waiting.remove(&id);
                }
            }
        }
        if let Some(key) = wait.timer {
            self.timers.remove(&key);
        }
        self.ready.push_back(thread);
        self.record(Event::WaitEnd { thread: number, status });
    }

    /// Wakes the waiters of a just-signaled object that can now be satisfied,
    /// in wait order, until the object is consumed.
    pub(crate) fn satisfy_waiters(&mut self, object: &DispatcherHeader) {
        let Some(queue) = self.waiting.get(&object.id()) else { return };
        let candidates: Vec<ThreadId> = queue.iter().copied().collect();
        for thread in candidates {
            if !object.is_signaled() {
                break;
            }
            let status = match self.threads.get(thread).and_then(|t| t.wait.as_ref()) {
                Some(wait) => try_satisfy(&wait.objects, wait.wait_all),
                None => None,
            };
            if let Some(status) = status {
                self.end_wait(thread, status);
            }
        }
    }

    // ---- time -------------------------------------------------------------

    pub(crate) fn insert_timer(&mut self, due_ticks: u64, entry: TimerEntry) -> TimerKey {
        self.timer_seq += 1;
        let key = (due_ticks.max(self.now_ticks), self.timer_seq);
        self.timers.insert(key, entry);
        key
    }

    /// Moves the clock to `to_ticks`, firing everything due on the way.
    pub(crate) fn advance_clock(&mut self, to_ticks: u64) {
        while let Some((&key, _)) = self.timers.first_key_value() {
            if key.0 > to_ticks {
                break;
            }
            let Some(entry) = self.timers.remove(&key) else { break };
            self.now_ticks = self.now_ticks.max(key.0);
            self.fire(key, entry);
        }
        self.now_ticks = self.now_ticks.max(to_ticks);
    }

    fn fire(&mut self, key: TimerKey, entry: TimerEntry) {
        match entry {
            TimerEntry::Timer(timer) => crate::ke::timer::expire_sim(self, key, &timer),
            TimerEntry::WaitTimeout(thread) => {
                let status = self
                    .threads
                    .get(thread)
                    .and_then(|t| t.wait.as_ref())
                    .map_or(STATUS_TIMEOUT, |w| w.timeout_status);
                if let Some(wait) = self.threads.get_mut(thread).and_then(|t| t.wait.as_mut()) {
                    wait.timer = None;
                }
                self.end_wait(thread, status);
            }
            TimerEntry::Interrupt(irq) => self.request_interrupt(irq),
        }
    }

    // ---- interrupts -------------------------------------------------------

    /// A device raised an edge on `irq`.
    pub(crate) fn request_interrupt(&mut self, irq: u8) {
        self.record(Event::InterruptRequest { irq });
        let Some(line) = self.lines.get_mut(irq as usize) else { return };
        if line.objects.is_empty() {
            self.record(Event::Unclaimed { irq });
            return;
        }
        line.pending = true;
    }

    // ---- scheduling -------------------------------------------------------

    /// Everything that could happen next, in a deterministic order.
    pub(crate) fn enabled(&self, out: &mut Vec<Enabled>) {
        out.clear();
        let ready = self.ready.front().map(|&t| self.thread_number(t));
        let mut idle_offered = false;
        for (index, cpu) in self.cpus.iter().enumerate() {
            let p = index as u32;
            let dpc_due = cpu.irql < DISPATCH_LEVEL && !cpu.dpcs.is_empty();
            match cpu.frames.last() {
                None if dpc_due => {
                    out.push(Enabled { choice: Choice::Run { cpu: p }, task: Task::Dpc(p) })
                }
                None => {
                    // Processors are alike: offering the first idle one only
                    // keeps the choice list short without losing behaviours.
                    if let (Some(thread), false) = (ready, idle_offered) {
                        idle_offered = true;
                        out.push(Enabled {
                            choice: Choice::Dispatch { cpu: p, thread },
                            task: Task::Thread(thread),
                        });
                    }
                }
                Some(top) => {
                    let runnable = match top.state {
                        FrameState::Runnable => true,
                        FrameState::Spinning(lock) => !self.locks.contains_key(&lock),
                        FrameState::Blocked => false,
                    };
                    if dpc_due {
                        out.push(Enabled { choice: Choice::Run { cpu: p }, task: Task::Dpc(p) });
                    } else if runnable {
                        out.push(Enabled {
                            choice: Choice::Run { cpu: p },
                            task: self.task_of(p, top),
                        });
                    }
                    let preemptible = cpu.frames.len() == 1
                        && !dpc_due
                        && cpu.irql < DISPATCH_LEVEL
                        && top.state == FrameState::Runnable;
                    if let (Some(thread), true) = (ready, preemptible) {
                        out.push(Enabled {
                            choice: Choice::Preempt { cpu: p, thread },
                            task: Task::Thread(thread),
                        });
                    }
                }
            }
            for (irq, line) in self.lines.iter().enumerate() {
                if !line.requested() || line.in_service {
                    continue;
                }
                let Some((irql, affinity)) = line.target() else { continue };
                if cpu.irql < irql && affinity & (1u64 << p) != 0 {
                    let irq = irq as u8;
                    out.push(Enabled {
                        choice: Choice::Interrupt { cpu: p, irq },
                        task: Task::Interrupt(irq),
                    });
                }
            }
        }
    }

    fn task_of(&self, cpu: u32, frame: &Frame) -> Task {
        match frame.kind {
            FrameKind::Thread(t) => Task::Thread(self.thread_number(t)),
            FrameKind::Dpc => Task::Dpc(cpu),
            FrameKind::Isr(irq) => Task::Interrupt(irq),
        }
    }

    /// True when nothing is left to do: no frame, DPC or request, and no
    /// thread but background ones waiting.
    pub(crate) fn quiescent(&self) -> bool {
        self.threads.iter().all(|(_, t)| t.background && t.state == ThreadState::Waiting)
            && self.spawns.is_empty()
            && self.cpus.iter().all(|c| c.frames.is_empty() && c.dpcs.is_empty())
    }
}
