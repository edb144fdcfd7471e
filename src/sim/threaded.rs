//! Threaded mode: the same kernel API on real OS threads, for throughput and
//! soak runs. No determinism promise and no trace.
//!
//! Each OS thread of the machine is a processor of its own, with its IRQL in
//! its PCR, so every IRQL rule is still checked. Spin locks really spin.
//! A DPC queued below DISPATCH_LEVEL runs at once on the queuing thread, one
//! queued at or above it when that thread's IRQL drops; DPCs from timers,
//! interrupts and KeSetTargetProcessorDpc go to per-processor worker threads
//! through crossbeam channels. Timers run on a timer thread on the real
//! clock. Waits sleep on the machine's dispatcher lock.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::cell::{Cell, RefCell};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::pcr::{self, Context, Mode};
use super::state::{IRQ_LINES, Line};
use super::{Failure, Run, panic_message};
use crate::ke::dispatcher::{DispatcherHeader, try_satisfy};
use crate::ke::dpc::{self, DpcInner};
use crate::ke::interrupt;
use crate::ke::timer::TimerInner;
use crate::ke::{DISPATCH_LEVEL, Interval, PASSIVE_LEVEL};
use crate::ob::ObjectId;
use crate::ps::ThreadExit;
use crate::sim::clock::BOOT_SYSTEM_TIME;
use crate::status::NtStatus;
use crate::sync::{Condvar, Mutex};
use crate::trace::Trace;
use crate::verifier::{BugCheck, Halt};

/// Work for a processor's worker thread.
enum Job {
    Dpc(Arc<DpcInner>, u64),
    Interrupt(u8),
    Stop,
}

enum TimerCommand {
    Arm { timer: Arc<TimerInner>, generation: u64, deadline: Instant },
    Interrupt { irq: u8, deadline: Instant },
    Stop,
}

enum Due {
    Timer(Arc<TimerInner>, u64),
    Interrupt(u8),
}

pub(crate) struct Machine {
    tag: u32,
    system: Arc<super::system::System>,
    processors: u32,
    start: Instant,
    next_object: AtomicU32,
    next_processor: AtomicU32,
    halted: AtomicBool,
    stop: Mutex<Option<Failure>>,
    dispatcher: Mutex<()>,
    dispatcher_cv: Condvar,
    workers: Vec<Sender<Job>>,
    timers: Sender<TimerCommand>,
    lines: Mutex<Vec<Line>>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Background threads: stopped, not waited for, at the end of a run.
    background: Mutex<Vec<JoinHandle<()>>>,
}

thread_local! {
    static MACHINE: RefCell<Option<Arc<Machine>>> = const { RefCell::new(None) };
    /// DPCs queued by this processor, run when its IRQL drops.
    static LOCAL_DPCS: RefCell<VecDeque<(Arc<DpcInner>, u64)>> = const { RefCell::new(VecDeque::new()) };
    /// Whether `LOCAL_DPCS` may hold work: the one load every IRQL drop pays.
    static DPCS_PENDING: Cell<bool> = const { Cell::new(false) };
    static TOKEN: Cell<u32> = const { Cell::new(0) };
}

static TOKENS: AtomicU32 = AtomicU32::new(1);

fn with_machine<R>(f: impl FnOnce(&Arc<Machine>) -> R) -> R {
    MACHINE.with(|m| f(m.borrow().as_ref().expect("wdmsim: no threaded machine on this thread")))
}

fn machine() -> Arc<Machine> {
    with_machine(Arc::clone)
}

/// This OS thread's spin-lock owner token (never 0).
#[inline]
pub(crate) fn token() -> u32 {
    TOKEN.with(|t| {
        let mut token = t.get();
        if token == 0 {
            token = TOKENS.fetch_add(1, Ordering::Relaxed).max(1);
            t.set(token);
        }
        token
    })
}

fn attach(machine: &Arc<Machine>, cpu: u32, context: Context) {
    MACHINE.with(|m| *m.borrow_mut() = Some(machine.clone()));
    super::system::set(Some(machine.system.clone()));
    pcr::attach(Mode::Threaded, machine.tag, machine.system.options.debug_print);
    pcr::load(cpu, PASSIVE_LEVEL, context);
}

fn detach() {
    super::system::set(None);
    LOCAL_DPCS.with(|q| q.borrow_mut().clear());
    DPCS_PENDING.with(|p| p.set(false));
    MACHINE.with(|m| *m.borrow_mut() = None);
    pcr::reset();
}

impl Machine {
    fn is_halted(&self) -> bool {
        self.halted.load(Ordering::Acquire)
    }

    fn stop(&self, failure: Failure) {
        let mut stop = self.stop.lock();
        if stop.is_none() {
            *stop = Some(failure);
        }
        drop(stop);
        self.halted.store(true, Ordering::Release);
        let _guard = self.dispatcher.lock();
        self.dispatcher_cv.notify_all();
    }

    fn ticks_since_start(&self, instant: Instant) -> u64 {
        let elapsed = instant.saturating_duration_since(self.start);
        (elapsed.as_nanos() / 100).min(u128::from(u64::MAX)) as u64
    }

    fn deadline(&self, interval: Interval) -> Instant {
        let ticks_from_start = if interval.0 < 0 {
            self.ticks_since_start(Instant::now()).saturating_add(interval.0.unsigned_abs())
        } else {
            (interval.0 as u64).saturating_sub(BOOT_SYSTEM_TIME)
        };
        self.start + Duration::from_nanos(ticks_from_start.saturating_mul(100))
    }

    fn worker_for(&self, cpu: Option<u32>) -> &Sender<Job> {
        let cpu = cpu.unwrap_or_else(|| self.next_processor.fetch_add(1, Ordering::Relaxed));
        &self.workers[(cpu % self.processors) as usize]
    }
}

/// Unwinds the calling thread if its machine has stopped.
fn unwind_if_halted(machine: &Machine) {
    if machine.is_halted() && !std::thread::panicking() {
        std::panic::resume_unwind(Box::new(Halt));
    }
}

/// Runs a machine thread's body, recording a real panic as the run's failure.
fn guarded(machine: &Machine, body: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        if payload.is::<Halt>() || payload.is::<ThreadExit>() {
            return;
        }
        machine.stop(Failure::Panic(panic_message(&*payload)));
    }
}

pub(crate) fn run<T>(
    processors: u32,
    options: super::system::SystemOptions,
    replay: String,
    scenario: impl FnOnce() -> T,
) -> Run<T> {
    let finish = |result, now_ticks, warnings| Run {
        result,
        trace: Trace::default(),
        seed: 0,
        steps: 0,
        now_ticks,
        replay: replay.clone(),
        warnings,
    };
    if let Err(error) = super::validate(processors) {
        return finish(Err(Failure::Config(error)), 0, Vec::new());
    }
    let (worker_txs, worker_rxs): (Vec<_>, Vec<_>) =
        (0..processors).map(|_| crossbeam_channel::unbounded()).unzip();
    let (timer_tx, timer_rx) = crossbeam_channel::unbounded();
    let machine = Arc::new(Machine {
        tag: super::next_tag(),
        system: Arc::new(super::system::System::new(options)),
        processors,
        start: Instant::now(),
        next_object: AtomicU32::new(0),
        next_processor: AtomicU32::new(0),
        halted: AtomicBool::new(false),
        stop: Mutex::new(None),
        dispatcher: Mutex::new(()),
        dispatcher_cv: Condvar::new(),
        workers: worker_txs,
        timers: timer_tx,
        lines: Mutex::new((0..IRQ_LINES).map(|_| Line::default()).collect()),
        threads: Mutex::new(Vec::new()),
        background: Mutex::new(Vec::new()),
    });
    let mut helpers: Vec<JoinHandle<()>> = worker_rxs
        .into_iter()
        .enumerate()
        .map(|(cpu, rx)| {
            let m = machine.clone();
            std::thread::Builder::new()
                .name(format!("wdmsim-cpu{cpu}"))
                .spawn(move || worker(m, cpu as u32, rx))
                .expect("wdmsim: cannot start a processor thread")
        })
        .collect();
    let m = machine.clone();
    helpers.push(
        std::thread::Builder::new()
            .name("wdmsim-timers".into())
            .spawn(move || timer_thread(m, timer_rx))
            .expect("wdmsim: cannot start the timer thread"),
    );

    attach(&machine, 0, Context::Thread);
    let mut value = None;
    guarded(&machine, || {
        value = Some(scenario());
        crate::ps::exit_thread();
    });
    detach();
    // Wait for every system thread, including those started by others.
    loop {
        let threads = std::mem::take(&mut *machine.threads.lock());
        if threads.is_empty() {
            break;
        }
        threads.into_iter().for_each(|t| drop(t.join()));
    }
    // Switch the machine off under its background threads: each unwinds at
    // its next kernel call (a wait returns at once on a halted machine).
    let background = std::mem::take(&mut *machine.background.lock());
    if !background.is_empty() {
        machine.halted.store(true, Ordering::Release);
        drop(machine.dispatcher.lock());
        machine.dispatcher_cv.notify_all();
        background.into_iter().for_each(|t| drop(t.join()));
    }
    let now_ticks = machine.ticks_since_start(Instant::now());
    machine.workers.iter().for_each(|w| drop(w.send(Job::Stop)));
    drop(machine.timers.send(TimerCommand::Stop));
    helpers.into_iter().for_each(|t| drop(t.join()));
    let stop = machine.stop.lock().take();
    let result = match stop {
        Some(failure) => Err(failure),
        None => value.ok_or(Failure::Unfinished),
    };
    let warnings = std::mem::take(&mut *machine.system.warnings.lock());
    finish(result, now_ticks, warnings)
}

fn worker(machine: Arc<Machine>, cpu: u32, jobs: Receiver<Job>) {
    attach(&machine, cpu, Context::Dpc);
    for job in jobs {
        if machine.is_halted() && !matches!(job, Job::Stop) {
            continue;
        }
        match job {
            Job::Stop => break,
            Job::Dpc(inner, generation) => {
                guarded(&machine, || run_queued_dpc(&inner, generation));
            }
            Job::Interrupt(irq) => guarded(&machine, || {
                let objects = machine.lines.lock()[irq as usize].objects.clone();
                pcr::PCR.with(|p| p.context.set(Context::Isr));
                interrupt::dispatch_threaded(&objects);
                pcr::PCR.with(|p| p.context.set(Context::Dpc));
                drain_dpcs();
            }),
        }
    }
    detach();
}

/// Runs a DPC taken from a queue if that entry is still current.
fn run_queued_dpc(inner: &Arc<DpcInner>, generation: u64) {
    if inner.generation.load(Ordering::Acquire) != generation
        || !inner.queued.swap(false, Ordering::AcqRel)
    {
        return;
    }
    let old = pcr::irql();
    let context = pcr::context();
    pcr::set_irql(DISPATCH_LEVEL);
    pcr::PCR.with(|p| p.context.set(Context::Dpc));
    dpc::run_dpc(inner);
    pcr::PCR.with(|p| p.context.set(context));
    pcr::set_irql(old);
}

/// Runs this processor's queued DPCs (its IRQL just dropped below
/// DISPATCH_LEVEL, or it queued one from below it).
#[inline]
pub(crate) fn drain_dpcs() {
    if DPCS_PENDING.with(Cell::get) {
        drain_dpcs_slow();
    }
}

#[cold]
fn drain_dpcs_slow() {
    while let Some((inner, generation)) = LOCAL_DPCS.with(|q| q.borrow_mut().pop_front()) {
        run_queued_dpc(&inner, generation);
    }
    DPCS_PENDING.with(|p| p.set(false));
}

pub(crate) fn queue_dpc(inner: Arc<DpcInner>, generation: u64, target: Option<u32>) {
    if let Some(cpu) = target {
        with_machine(|m| drop(m.worker_for(Some(cpu)).send(Job::Dpc(inner, generation))));
        return;
    }
    LOCAL_DPCS.with(|q| q.borrow_mut().push_back((inner, generation)));
    DPCS_PENDING.with(|p| p.set(true));
    if pcr::irql() < DISPATCH_LEVEL {
        drain_dpcs();
    }
}

fn timer_thread(machine: Arc<Machine>, commands: Receiver<TimerCommand>) {
    attach(&machine, 0, Context::Dpc);
    let mut seq = 0u64;
    let mut heap: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut due: std::collections::BTreeMap<u64, Due> = std::collections::BTreeMap::new();
    loop {
        let command = match heap.peek() {
            Some(Reverse((deadline, _))) => {
                commands.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            }
            None => commands.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match command {
            Ok(TimerCommand::Arm { timer, generation, deadline }) => {
                seq += 1;
                heap.push(Reverse((deadline, seq)));
                due.insert(seq, Due::Timer(timer, generation));
            }
            Ok(TimerCommand::Interrupt { irq, deadline }) => {
                seq += 1;
                heap.push(Reverse((deadline, seq)));
                due.insert(seq, Due::Interrupt(irq));
            }
            Ok(TimerCommand::Stop) | Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {}
        }
        let now = Instant::now();
        while let Some(&Reverse((deadline, key))) = heap.peek() {
            if deadline > now {
                break;
            }
            heap.pop();
            let Some(entry) = due.remove(&key) else { continue };
            if machine.is_halted() {
                continue;
            }
            match entry {
                Due::Timer(timer, generation) => {
                    if let Some(next) = expire(&machine, &timer, generation, deadline) {
                        seq += 1;
                        heap.push(Reverse((next, seq)));
                        due.insert(seq, Due::Timer(timer, generation));
                    }
                }
                Due::Interrupt(irq) => send_interrupt(&machine, irq),
            }
        }
    }
    detach();
}

/// A threaded timer fell due; returns when it is due again (periodic).
fn expire(
    machine: &Machine,
    timer: &Arc<TimerInner>,
    generation: u64,
    deadline: Instant,
) -> Option<Instant> {
    let (dpc, cpu, next) = {
        let mut state = timer.state.lock();
        if state.generation != generation || !state.armed {
            return None;
        }
        let next = (state.period_ms > 0)
            .then(|| deadline + Duration::from_millis(u64::from(state.period_ms)));
        state.armed = next.is_some();
        (state.dpc.clone(), state.cpu, next)
    };
    {
        let _guard = machine.dispatcher.lock();
        timer.header.set_signaled(true);
        machine.dispatcher_cv.notify_all();
    }
    if let Some(dpc) = dpc {
        let inner = dpc.inner();
        if !inner.queued.swap(true, Ordering::AcqRel) {
            let generation = inner.generation.fetch_add(1, Ordering::AcqRel) + 1;
            drop(machine.worker_for(Some(cpu)).send(Job::Dpc(inner.clone(), generation)));
        }
    }
    next
}

pub(crate) fn arm_timer(timer: Arc<TimerInner>, generation: u64, due: Interval) {
    with_machine(|m| {
        let deadline = m.deadline(due);
        drop(m.timers.send(TimerCommand::Arm { timer, generation, deadline }));
    });
}

pub(crate) fn interrupt_after(irq: u8, delay: Interval) {
    with_machine(|m| {
        let deadline = m.deadline(delay);
        drop(m.timers.send(TimerCommand::Interrupt { irq, deadline }));
    });
}

fn send_interrupt(machine: &Machine, irq: u8) {
    let affinity = machine.lines.lock()[irq as usize].objects.first().map(|o| o.affinity);
    let Some(affinity) = affinity else { return };
    let start = machine.next_processor.fetch_add(1, Ordering::Relaxed);
    let cpu = (0..machine.processors)
        .map(|i| (start + i) % machine.processors)
        .find(|&cpu| affinity & (1u64 << cpu) != 0);
    if let Some(cpu) = cpu {
        drop(machine.workers[cpu as usize].send(Job::Interrupt(irq)));
    }
}

pub(crate) fn request_interrupt(irq: u8) {
    with_machine(|m| send_interrupt(m, irq));
}

pub(crate) fn with_line<R>(irq: u8, f: impl FnOnce(&mut Line, u32) -> R) -> R {
    with_machine(|m| f(&mut m.lines.lock()[irq as usize], m.processors))
}

pub(crate) fn spawn_thread(
    name: Option<&'static str>,
    header: Arc<DispatcherHeader>,
    background: bool,
    start: Box<dyn FnOnce() + Send>,
) {
    let machine = machine();
    let cpu = machine.next_processor.fetch_add(1, Ordering::Relaxed) % machine.processors;
    let m = machine.clone();
    let handle = std::thread::Builder::new()
        .name(name.unwrap_or("wdmsim-thread").to_string())
        .spawn(move || {
            attach(&m, cpu, Context::Thread);
            guarded(&m, || {
                start();
                crate::ps::exit_thread();
            });
            under_dispatcher_lock(true, || header.set_signaled(true));
            detach();
        })
        .expect("wdmsim: cannot start a system thread");
    match background {
        true => machine.background.lock().push(handle),
        false => machine.threads.lock().push(handle),
    }
}

/// Runs `f` under the dispatcher lock, waking every waiter after if `notify`.
pub(crate) fn under_dispatcher_lock<R>(notify: bool, f: impl FnOnce() -> R) -> R {
    with_machine(|m| {
        let _guard = m.dispatcher.lock();
        let result = f();
        if notify {
            m.dispatcher_cv.notify_all();
        }
        result
    })
}

pub(crate) fn wait(
    objects: &[Arc<DispatcherHeader>],
    wait_all: bool,
    timeout: Option<Interval>,
    timeout_status: NtStatus,
) -> NtStatus {
    let machine = machine();
    let deadline = timeout.map(|t| machine.deadline(t));
    let mut guard = machine.dispatcher.lock();
    loop {
        if machine.is_halted() {
            drop(guard);
            unwind_if_halted(&machine);
            return timeout_status;
        }
        if let Some(status) = try_satisfy(objects, wait_all) {
            return status;
        }
        match deadline {
            Some(deadline) if Instant::now() >= deadline => return timeout_status,
            Some(deadline) => {
                machine.dispatcher_cv.wait_until(&mut guard, deadline);
            }
            None => machine.dispatcher_cv.wait(&mut guard),
        }
    }
}

/// Busy-waits on the real clock.
pub(crate) fn stall(ticks: u64) {
    let until = Instant::now() + Duration::from_nanos(ticks.saturating_mul(100));
    while Instant::now() < until {
        std::hint::spin_loop();
    }
}

/// One round of a contended spin-lock acquire.
pub(crate) fn spin_wait(spins: u32) {
    if spins.is_multiple_of(1024) {
        with_machine(|m| unwind_if_halted(m));
        std::thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}

pub(crate) fn is_halted() -> bool {
    with_machine(|m| m.is_halted())
}

pub(crate) fn halt(check: BugCheck) {
    with_machine(|m| m.stop(Failure::BugCheck(check)));
}

pub(crate) fn register_object() -> ObjectId {
    with_machine(|m| ObjectId(m.next_object.fetch_add(1, Ordering::Relaxed)))
}

pub(crate) fn now_ticks() -> u64 {
    with_machine(|m| m.ticks_since_start(Instant::now()))
}
