//! The scheduler loop: list what can happen, let the strategy pick, resume
//! the chosen fiber, account for where it stopped. Repeat until nothing is
//! left, a deadlock, a bug check, or the step limit.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::Failure;
use super::fiber::{Fiber, Status};
use super::pcr::{self, Context};
use super::report;
use super::sched::{Choice, Enabled, Scheduler};
use super::state::{
    FiberId, Frame, FrameKind, FrameState, SimState, Stop, ThreadId, ThreadState, with_sim,
};
use crate::ke::{DISPATCH_LEVEL, PASSIVE_LEVEL};
use crate::ps::ThreadExit;
use crate::trace::Event;
use crate::verifier::Halt;

/// The fibers of one run, addressed by [`FiberId`].
#[derive(Debug, Default)]
pub(crate) struct Fibers {
    slots: Vec<Option<Fiber>>,
    free: Vec<FiberId>,
}

impl Fibers {
    fn create(&mut self, body: impl FnOnce() + 'static) -> FiberId {
        let fiber = Fiber::new(body);
        match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = Some(fiber);
                id
            }
            None => {
                self.slots.push(Some(fiber));
                (self.slots.len() - 1) as FiberId
            }
        }
    }

    fn resume(&mut self, id: FiberId) -> Status {
        match self.slots.get_mut(id as usize).and_then(Option::as_mut) {
            Some(fiber) => fiber.resume(),
            None => Status::Finished,
        }
    }

    fn recycle(&mut self, id: FiberId) {
        if let Some(fiber) = self.slots.get_mut(id as usize).and_then(Option::take) {
            fiber.recycle();
            self.free.push(id);
        }
    }
}

/// A DPC or ISR frame the scheduler starts on a processor.
#[derive(Clone, Copy, Debug)]
enum Launch {
    Dpc,
    Isr(u8),
}

/// Runs the machine until it stops.
pub(crate) fn run_loop(strategy: &mut dyn Scheduler, fibers: &mut Fibers) {
    let mut enabled = Vec::new();
    loop {
        spawn_pending(fibers);
        let Some(choice) = with_sim(|s| s.decide(strategy, &mut enabled)) else { break };
        let (cpu, launch) = with_sim(|s| s.apply(choice));
        if let Some(launch) = launch {
            let fiber = fibers.create(move || match launch {
                Launch::Dpc => guarded(|| crate::ke::dpc::retire_dpc_list_sim(cpu)),
                Launch::Isr(irq) => guarded(|| crate::ke::interrupt::dispatch_sim(irq)),
            });
            with_sim(|s| s.push_frame(cpu, fiber, launch));
        }
        let fiber = with_sim(|s| s.enter(cpu));
        let status = fibers.resume(fiber);
        if let Some(done) = with_sim(|s| s.leave(cpu, status)) {
            fibers.recycle(done);
        }
    }
}

/// Gives every newly created thread its fiber and makes it ready.
fn spawn_pending(fibers: &mut Fibers) {
    let spawns = with_sim(|s| std::mem::take(&mut s.spawns));
    for spawn in spawns {
        let thread = spawn.thread;
        let body = spawn.body;
        let fiber = fibers.create(move || thread_main(thread, body));
        with_sim(|s| {
            if let Some(rec) = s.threads.get_mut(thread) {
                rec.fiber = Some(fiber);
            }
            s.ready.push_back(thread);
        });
    }
}

fn thread_main(thread: ThreadId, body: Box<dyn FnOnce()>) {
    guarded(move || {
        body();
        crate::ps::exit_thread();
    });
    with_sim(|s| {
        if !s.halted {
            s.thread_exit(thread);
        }
    });
}

/// Runs a fiber body, turning the unwinds that end a thread (a bug check's
/// halt, PsTerminateSystemThread) into a normal return, and a real panic
/// (a failed assertion in a scenario) into a stop that the runner re-raises
/// on the test thread. On a machine being torn down, the unwind is the
/// fiber's stack being freed under a thread still waiting (a background
/// thread at the end of a run): it goes on to the fiber's root.
pub(crate) fn guarded(body: impl FnOnce()) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(body)) {
        if payload.is::<Halt>() || payload.is::<ThreadExit>() {
            return;
        }
        if with_sim(|s| s.halted) {
            std::panic::resume_unwind(payload);
        }
        with_sim(|s| s.stop(Stop::Panic(payload)));
    }
}

impl SimState {
    /// Picks the next choice, jumping the clock while nothing can run.
    /// `None` when the run is over.
    fn decide(
        &mut self,
        strategy: &mut dyn Scheduler,
        enabled: &mut Vec<Enabled>,
    ) -> Option<Choice> {
        if self.stop.is_some() {
            return None;
        }
        // Timers due now (set in the past or for this instant) fire first.
        self.advance_clock(self.now_ticks);
        loop {
            self.enabled(enabled);
            if !enabled.is_empty() {
                break;
            }
            if self.quiescent() {
                return None;
            }
            match self.timers.first_key_value() {
                Some((&(due, _), _)) => {
                    self.record(Event::ClockJump { to_ticks: due });
                    self.advance_clock(due);
                }
                None => {
                    let report = report::machine_report(self);
                    self.stop(Stop::Failure(Failure::Deadlock(report)));
                    return None;
                }
            }
        }
        if self.step >= self.config.steps_max {
            let report = report::machine_report(self);
            self.stop(Stop::Failure(Failure::StepLimit(report)));
            return None;
        }
        self.step += 1;
        let index = strategy.choose(self.step, enabled).min(enabled.len() - 1);
        let choice = enabled[index].choice;
        self.record(Event::Pick { choice, of: enabled.len() as u16 });
        Some(choice)
    }

    /// Carries out thread moves and interrupt acceptance; returns the
    /// processor to resume and a frame to start on it first, if any.
    fn apply(&mut self, choice: Choice) -> (u32, Option<Launch>) {
        match choice {
            Choice::Run { cpu } => {
                let c = &self.cpus[cpu as usize];
                let dpc_due = c.irql < DISPATCH_LEVEL && !c.dpcs.is_empty();
                (cpu, dpc_due.then_some(Launch::Dpc))
            }
            Choice::Dispatch { cpu, .. } => {
                if let Some(thread) = self.ready.pop_front() {
                    self.put_thread(cpu, thread);
                }
                (cpu, None)
            }
            Choice::Preempt { cpu, .. } => {
                let next = self.ready.pop_front();
                let c = &mut self.cpus[cpu as usize];
                if let Some(Frame { kind: FrameKind::Thread(old), .. }) = c.frames.pop() {
                    let irql = c.irql;
                    if let Some(rec) = self.threads.get_mut(old) {
                        rec.state = ThreadState::Ready;
                        rec.irql = irql;
                    }
                    self.ready.push_back(old);
                }
                if let Some(thread) = next {
                    self.put_thread(cpu, thread);
                }
                (cpu, None)
            }
            Choice::Interrupt { cpu, irq } => {
                if let Some(line) = self.lines.get_mut(irq as usize) {
                    line.pending = false;
                    line.in_service = true;
                }
                (cpu, Some(Launch::Isr(irq)))
            }
        }
    }

    fn put_thread(&mut self, cpu: u32, thread: ThreadId) {
        let Some(rec) = self.threads.get_mut(thread) else { return };
        let Some(fiber) = rec.fiber else { return };
        rec.state = ThreadState::Running(cpu);
        let c = &mut self.cpus[cpu as usize];
        c.irql = rec.irql;
        c.frames.push(Frame {
            fiber,
            kind: FrameKind::Thread(thread),
            irql_entry: PASSIVE_LEVEL,
            state: FrameState::Runnable,
        });
    }

    fn push_frame(&mut self, cpu: u32, fiber: FiberId, launch: Launch) {
        let from = self.cpus[cpu as usize].irql;
        let (kind, irql) = match launch {
            Launch::Dpc => (FrameKind::Dpc, DISPATCH_LEVEL),
            Launch::Isr(irq) => {
                let irql = self.lines[irq as usize].objects.first().map_or(from, |o| o.irql);
                self.record(Event::IsrEnter { cpu, irq, from });
                (FrameKind::Isr(irq), irql)
            }
        };
        let c = &mut self.cpus[cpu as usize];
        c.frames.push(Frame { fiber, kind, irql_entry: from, state: FrameState::Runnable });
        c.irql = irql;
    }

    /// Loads processor `cpu` into the PCR; returns the fiber to resume.
    fn enter(&mut self, cpu: u32) -> FiberId {
        self.current = Some(cpu);
        let c = &self.cpus[cpu as usize];
        let Some(top) = c.frames.last() else { return FiberId::MAX };
        let context = match top.kind {
            FrameKind::Thread(_) => Context::Thread,
            FrameKind::Dpc => Context::Dpc,
            FrameKind::Isr(_) => Context::Isr,
        };
        pcr::load(cpu, c.irql, context);
        top.fiber
    }

    /// Saves processor `cpu` after its fiber stopped; returns the fiber if it
    /// finished, for recycling.
    fn leave(&mut self, cpu: u32, status: Status) -> Option<FiberId> {
        self.current = None;
        let c = &mut self.cpus[cpu as usize];
        c.irql = pcr::irql();
        match status {
            Status::Finished => {
                let frame = c.frames.pop()?;
                match frame.kind {
                    FrameKind::Thread(thread) => {
                        c.irql = PASSIVE_LEVEL;
                        self.threads.remove(thread);
                    }
                    FrameKind::Dpc => c.irql = frame.irql_entry,
                    FrameKind::Isr(irq) => {
                        c.irql = frame.irql_entry;
                        if let Some(line) = self.lines.get_mut(irq as usize) {
                            line.in_service = false;
                        }
                    }
                }
                Some(frame.fiber)
            }
            Status::Suspended => {
                if c.frames.last().is_some_and(|f| f.state == FrameState::Blocked) {
                    let irql = c.irql;
                    c.irql = PASSIVE_LEVEL;
                    if let Some(Frame { kind: FrameKind::Thread(thread), .. }) = c.frames.pop()
                        && let Some(rec) = self.threads.get_mut(thread)
                    {
                        rec.irql = irql;
                    }
                }
                None
            }
        }
    }

    /// Ends a thread: its object is signaled and its waiters wake.
    fn thread_exit(&mut self, thread: ThreadId) {
        let Some(rec) = self.threads.get_mut(thread) else { return };
        rec.state = ThreadState::Terminated;
        let object = rec.object.clone();
        let number = rec.number;
        object.set_signaled(true);
        self.record(Event::ThreadExit { thread: number });
        self.satisfy_waiters(&object);
    }
}
