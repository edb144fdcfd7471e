//! IRP-path benchmarks with in-run baselines (docs/PERFORMANCE.md).
//!
//! A 4-byte Wdm1 read through the whole path: ReadFile → I/O manager builds
//! the IRP → IoCallDriver → Wdm1Read (BufferLock, copy, trace lines) →
//! IoCompleteRequest → the I/O manager copies the system buffer back. The
//! baseline does the work that is left without a kernel: a 4-byte copy
//! under a lock through a plain function call.
//!
//! Run: `cargo bench --bench irp`, `-- --quick`, or `-- --test` (CI smoke).

// Benches measure host wall time on purpose.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

#[path = "common/chain.rs"]
mod chain;
#[path = "common/stack3.rs"]
mod stack3;
use wdmsim::drivers::wdm1;
use wdmsim::sync::Mutex;
use wdmsim::win32::*;
use wdmsim::{Machine, io, pnp};

/// Boots Wdm1 with 4 bytes in its buffer, opens it, and times `iters` reads.
fn timed_reads(iters: u64) -> Duration {
    pnp::install(wdm1::package());
    let node = pnp::add_root_device(wdm1::HARDWARE_ID).expect("start");
    let link = io::get_device_interfaces(&wdm1::WDM1_GUID).remove(0);
    let h = create_file(&io::device_path(&link), GENERIC_READ | GENERIC_WRITE, 0, OPEN_EXISTING, 0);
    let mut n = 0;
    assert!(write_file(h, &[1, 2, 3, 4], 4, &mut n));
    let mut buffer = [0u8; 4];
    let start = Instant::now();
    for _ in 0..iters {
        read_file(h, black_box(&mut buffer), 4, &mut n);
    }
    let elapsed = start.elapsed();
    assert_eq!((n, buffer), (4, [1, 2, 3, 4]));
    close_handle(h);
    pnp::remove_device(node).expect("removal");
    elapsed
}

#[inline(never)]
fn baseline_read(shared: &Mutex<Vec<u8>>, out: &mut [u8; 4]) -> usize {
    let buffer = shared.lock();
    out.copy_from_slice(&buffer[..4]);
    4
}

fn wdm1_read(c: &mut Criterion) {
    let mut group = c.benchmark_group("wdm1_read_4_bytes");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(20);
    group.throughput(Throughput::Elements(1));
    group.bench_function("wdmsim_threaded", |b| {
        b.iter_custom(|iters| {
            Machine::threaded().processors(1).run(move || timed_reads(iters)).value()
        });
    });
    group.bench_function("wdmsim_threaded_no_io_verification", |b| {
        b.iter_custom(|iters| {
            let machine = Machine::threaded().processors(1).io_verification(false);
            machine.run(move || timed_reads(iters)).value()
        });
    });
    group.bench_function("wdmsim_sim", |b| {
        b.iter_custom(|iters| {
            // A timed batch runs millions of scheduling steps.
            let machine = Machine::sim().processors(1).trace(false).steps_max(u64::MAX);
            machine.run(move || timed_reads(iters)).value()
        });
    });
    group.bench_function("baseline_locked_copy", |b| {
        let shared = Mutex::new(vec![1u8, 2, 3, 4]);
        let mut out = [0u8; 4];
        b.iter(|| baseline_read(black_box(&shared), &mut out));
    });
    group.finish();
}

/// Group 1: a synchronous IRP through upper filter → FDO → PDO.
fn irp_stack_3(c: &mut Criterion) {
    let mut group = c.benchmark_group("irp_stack_3");
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    group.sample_size(20);
    group.throughput(Throughput::Elements(1));
    fn timed(iters: u64) -> Duration {
        let mut stack = stack3::Stack3::new();
        let start = Instant::now();
        for _ in 0..iters {
            black_box(stack.read());
        }
        let elapsed = start.elapsed();
        assert_eq!(stack.buffer(), [1, 2, 3, 4]);
        elapsed
    }
    group.bench_function("wdmsim_threaded", |b| {
        b.iter_custom(|iters| Machine::threaded().processors(1).run(move || timed(iters)).value());
    });
    group.bench_function("wdmsim_threaded_no_io_verification", |b| {
        b.iter_custom(|iters| {
            let machine = Machine::threaded().processors(1).io_verification(false);
            machine.run(move || timed(iters)).value()
        });
    });
    group.bench_function("baseline_call_chain", |b| {
        let data = Mutex::new([1u8, 2, 3, 4]);
        b.iter(|| chain::call(black_box(&data)));
    });
    group.bench_function("baseline_channel_hops", |b| {
        let data = Mutex::new([1u8, 2, 3, 4]);
        let mut hops = chain::Hops::new();
        b.iter(|| hops.call(black_box(&data)));
    });
    group.finish();
}

criterion_group!(benches, irp_stack_3, wdm1_read);
criterion_main!(benches);
