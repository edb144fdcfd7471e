//! Multi-processor scaling of the three-layer IRP path (group 4,
//! docs/PERFORMANCE.md): synchronous IRPs through upper filter → FDO → PDO
//! (src/bench/stack3.rs) sent by 1 or 2 system threads of a threaded
//! machine with 2 processors, each thread on its own stack ("separate":
//! one driver, each sender building its own stack of three devices) or all
//! on one stack ("shared":
//! the PDO's spin lock, the devices' reference counts and the driver's
//! dispatch table are contended).
//!
//! Each benchmark iteration is one IRP per thread and the throughput unit
//! is one IRP, so the rate criterion prints is IRPs per second *per
//! thread*: two threads scale perfectly when their rate equals one
//! thread's. The timed region starts when every sender has warmed up and
//! is released by one event, and ends when the last one is done.
//!
//! The baseline is the plain call chain of src/bench/chain.rs (`call`:
//! the same layering and 4-byte locked copy, no kernel) on 1 and 2 host
//! threads, with a mutex each (separate) or one shared mutex.
//!
//! Run: `cargo bench --bench scaling`, `-- --quick`, or `-- --test` (CI
//! smoke; plain `cargo test` runs each benchmark once too).

// Benches measure host wall time and start host threads on purpose.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod common;

use std::hint::black_box;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

use wdmsim::Machine;
use wdmsim::bench::{Stack3, chain};
use wdmsim::ddk::*;
use wdmsim::sync::Mutex;

use common::short;

/// IRPs each sender sends before the timed region (fills its thread's
/// lookaside lists).
const WARM_UP: u32 = 100;

/// How the senders share devices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Devices {
    /// Each sender its own stack.
    Separate,
    /// Every sender the same stack.
    Shared,
}

/// On a threaded machine with 2 processors: `threads` system threads, each
/// sending `iters` IRPs after the warm-up; the wall time from their common
/// start to the last one's end.
fn timed_senders(threads: usize, devices: Devices, iters: u64) -> Duration {
    let machine = Machine::threaded().processors(2);
    machine
        .run(move || {
            let driver = Stack3::load().expect("the Stack3 driver");
            // Separate stacks are built by their senders, so each one's
            // objects come from that thread's heap: built one after the
            // other on one thread, two stacks' objects share cache lines,
            // which cost 2 threads about a tenth of their rate
            // (docs/PERFORMANCE.md, "Group 4: scaling").
            let stacks: Vec<Option<Stack3>> = match devices {
                Devices::Separate => (0..threads).map(|_| None).collect(),
                Devices::Shared => {
                    let first = Stack3::on(&driver).expect("a stack");
                    let mut stacks: Vec<_> = (1..threads).map(|_| Some(first.sender())).collect();
                    stacks.push(Some(first));
                    stacks
                }
            };
            let go = Event::new(EventType::NotificationEvent, false);
            let mut ready = vec![];
            let mut senders = vec![];
            for stack in stacks {
                let (go, warm) = (go.clone(), Event::new(EventType::NotificationEvent, false));
                ready.push(warm.clone());
                let driver = driver.clone();
                let sender = ps_create_system_thread(move || {
                    let mut stack = stack.unwrap_or_else(|| Stack3::on(&driver).expect("a stack"));
                    for _ in 0..WARM_UP {
                        assert_eq!(stack.read(), 4);
                    }
                    ke_set_event(&warm, 0, false);
                    ke_wait_for_single_object(&go, None);
                    for _ in 0..iters {
                        black_box(stack.read());
                    }
                    assert_eq!(stack.buffer(), [1, 2, 3, 4]);
                })
                .expect("a system thread");
                senders.push(sender);
            }
            for warm in &ready {
                ke_wait_for_single_object(warm, None);
            }
            let start = Instant::now();
            ke_set_event(&go, 0, false);
            for sender in &senders {
                ke_wait_for_single_object(sender, None);
            }
            start.elapsed()
        })
        .value()
}

/// `threads` host threads each doing `iters` plain call chains, on a mutex
/// each or one shared mutex; the wall time from their common start to the
/// last one's end.
fn timed_calls(threads: usize, devices: Devices, iters: u64) -> Duration {
    let shared = Arc::new(Mutex::new([1u8, 2, 3, 4]));
    let barrier = Barrier::new(threads + 1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                let data = match devices {
                    Devices::Separate => Arc::new(Mutex::new([1u8, 2, 3, 4])),
                    Devices::Shared => Arc::clone(&shared),
                };
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    for _ in 0..iters {
                        black_box(chain::call(black_box(&data)));
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        workers.into_iter().for_each(|w| w.join().expect("a caller"));
        start.elapsed()
    })
}

fn scaling(c: &mut Criterion) {
    let mut group = short(c, "scaling");
    // One element is one IRP of one thread: the rate is per thread.
    group.throughput(Throughput::Elements(1));
    for (name, threads, devices) in [
        ("1_thread", 1, Devices::Separate),
        ("2_threads_separate", 2, Devices::Separate),
        ("2_threads_shared", 2, Devices::Shared),
    ] {
        group.bench_function(format!("wdmsim_threaded_{name}"), |b| {
            b.iter_custom(|iters| timed_senders(threads, devices, iters));
        });
        group.bench_function(format!("baseline_call_chain_{name}"), |b| {
            b.iter_custom(|iters| timed_calls(threads, devices, iters));
        });
    }
    group.finish();
}

criterion_group!(benches, scaling);
criterion_main!(benches);
