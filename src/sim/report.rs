//! What the machine was doing when it stopped: each processor, what it runs,
//! what it spins on and who holds that; each thread and what it waits for.

use std::fmt;

use super::state::{FrameKind, FrameState, SimState, ThreadState, describe_object};
use crate::ke::Irql;
use crate::sim::clock::format_ticks;

/// One processor in a [`MachineReport`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuReport {
    pub cpu: u32,
    pub irql: Irql,
    /// What runs on top: `thread 1 "a"`, `DPC`, `ISR irq7`; `None` if idle.
    pub running: Option<String>,
    /// The lock it spins on and the processor holding it.
    pub spinning_on: Option<(String, u32)>,
    /// The spin locks it holds.
    pub holds: Vec<String>,
}

/// One thread that is not running.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ThreadReport {
    pub thread: String,
    /// The objects it waits on (empty for a ready thread or a delay).
    pub waits_on: Vec<String>,
    pub ready: bool,
}

/// The machine's state at a deadlock or at the step limit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MachineReport {
    pub at_ticks: u64,
    pub step: u64,
    pub cpus: Vec<CpuReport>,
    pub threads: Vec<ThreadReport>,
}

pub(crate) fn machine_report(s: &SimState) -> MachineReport {
    let cpus = s
        .cpus
        .iter()
        .enumerate()
        .map(|(index, cpu)| {
            let index = index as u32;
            let top = cpu.frames.last();
            let running = top.map(|frame| match frame.kind {
                FrameKind::Thread(t) => s.trace.describe_thread(s.thread_number(t)),
                FrameKind::Dpc => "DPC".to_string(),
                FrameKind::Isr(irq) => format!("ISR irq{irq}"),
            });
            let spinning_on = top.and_then(|frame| match frame.state {
                FrameState::Spinning(lock) => {
                    let holder = s.locks.get(&lock).copied().unwrap_or(u32::MAX);
                    Some((describe_object(lock), holder))
                }
                _ => None,
            });
            let holds = s
                .locks
                .iter()
                .filter(|&(_, &holder)| holder == index)
                .map(|(&lock, _)| describe_object(lock))
                .collect();
            CpuReport { cpu: index, irql: cpu.irql, running, spinning_on, holds }
        })
        .collect();
    let threads = s
        .threads
        .iter()
        .filter(|(_, rec)| matches!(rec.state, ThreadState::Ready | ThreadState::Waiting))
        .map(|(_, rec)| ThreadReport {
            thread: s.trace.describe_thread(rec.number),
            waits_on: rec
                .wait
                .iter()
                .flat_map(|w| w.objects.iter().map(|o| describe_object(o.id())))
                .collect(),
            ready: rec.state == ThreadState::Ready,
        })
        .collect();
    MachineReport { at_ticks: s.now_ticks, step: s.step, cpus, threads }
}

impl fmt::Display for MachineReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "at {} (step {}):", format_ticks(self.at_ticks), self.step)?;
        for cpu in &self.cpus {
            write!(f, "  cpu{} at {}", cpu.cpu, cpu.irql)?;
            match &cpu.running {
                Some(what) => write!(f, " running {what}")?,
                None => write!(f, " idle")?,
            }
            if let Some((lock, holder)) = &cpu.spinning_on {
                write!(f, ": spins on {lock} held by cpu{holder}")?;
            }
            if !cpu.holds.is_empty() {
                write!(f, "; holds {}", cpu.holds.join(", "))?;
            }
            writeln!(f)?;
        }
        for thread in &self.threads {
            if thread.ready {
                writeln!(f, "  {} is ready", thread.thread)?;
            } else if thread.waits_on.is_empty() {
                writeln!(f, "  {} delays", thread.thread)?;
            } else {
                writeln!(f, "  {} waits on {}", thread.thread, thread.waits_on.join(", "))?;
            }
        }
        Ok(())
    }
}
