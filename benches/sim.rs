//! Simulation-mode throughput (group 5, docs/PERFORMANCE.md): whole
//! Wdm1Test runs per second under the seed explorer, the way the tests
//! explore a driver. Kernel events (scheduling steps) per second on their
//! own are `sim_events` in benches/ke.rs (`cargo bench --bench ke --
//! sim_events`); here the steps a Wdm1Test seed takes are printed, so
//! seeds per second convert to events per second of this scenario.
//!
//! One seed: boot a 2-processor simulated machine (trace off), install
//! Wdm1 and add its root device (DriverEntry, AddDevice, the PnP start
//! sequence), run the book's Wdm1Test once (fourteen tests on one handle:
//! CreateFile, reads, writes, SetFilePointer, six IOCTLs, CloseHandle; its
//! console writes to a sink and reads one empty line), remove the device
//! (remove IRPs, unload), tear the machine down. The throughput unit is one
//! seed.
//!
//! The baseline is the drivers' share of that work without a kernel: per
//! seed, one plain function call per dispatch routine call the run makes
//! (every IoCallDriver at every layer: PnP, power, create, read, write,
//! IOCTL, close; counted in seed 0's trace), each a 4-byte copy under a
//! mutex, as `wdm1_read`'s baseline. It is the floor of a program that
//! called the driver routines directly: no I/O manager, no scheduler, no
//! machine to boot. The ratio is what simulating the rest costs.
//!
//! Run: `cargo bench --bench sim`, `-- --quick`, or `-- --test` (CI smoke;
//! plain `cargo test` runs each benchmark once too, with fewer seeds for
//! the step count).

// Benches measure host wall time on purpose.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod common;

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use wdmsim::apps::{Console, wdm1_test};
use wdmsim::drivers::wdm1;
use wdmsim::sync::Mutex;
use wdmsim::trace::Event;
use wdmsim::{Machine, pnp};

use common::short;

/// The machine every seed runs on.
fn machine() -> Machine {
    Machine::sim().processors(2).trace(false)
}

/// One seed's scenario: install, Wdm1Test once, remove.
fn wdm1_test_once() {
    pnp::install(wdm1::package());
    let device = pnp::add_root_device(wdm1::HARDWARE_ID).expect("the Wdm1 device starts");
    let mut out = std::io::sink();
    let mut input: &[u8] = b"\n";
    let exit_code = wdm1_test::main(&mut Console::new(&mut out, &mut input));
    assert_eq!(exit_code, 0, "Wdm1Test's exit code");
    pnp::remove_device(device).expect("the device is removed");
}

/// The plain call standing for one dispatch routine call.
#[inline(never)]
fn baseline_dispatch(data: &Mutex<[u8; 4]>, out: &mut [u8; 4]) -> usize {
    out.copy_from_slice(&*data.lock());
    4
}

fn sim_wdm1_test(c: &mut Criterion) {
    // Criterion benchmarks only under `cargo bench` (which passes
    // `--bench`); in test mode fewer seeds give the step count.
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let sample_seeds = if benchmarking { 100 } else { 2 };
    let steps: u64 =
        (0..sample_seeds).map(|seed| machine().seed(seed).run(wdm1_test_once).steps).sum();
    let traced = Machine::sim().processors(2).seed(0).run(wdm1_test_once);
    let dispatches = traced
        .trace
        .records()
        .iter()
        .filter(|record| matches!(record.event, Event::IrpCall { .. }))
        .count() as u64;
    println!(
        "sim_wdm1_test: {} scheduling steps per seed (mean of {sample_seeds} seeds); seed 0: \
         {} steps, {} trace records, {dispatches} dispatch routine calls",
        steps / sample_seeds,
        traced.steps,
        traced.trace.len()
    );
    traced.value();

    let mut group = short(c, "sim_wdm1_test");
    // One element is one seed.
    group.throughput(Throughput::Elements(1));
    group.bench_function("explore_2cpu", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            let exploration = machine().explore(0..iters, wdm1_test_once);
            let elapsed = start.elapsed();
            exploration.assert_ok();
            assert_eq!(exploration.seeds_run, iters, "WDMSIM_SEED(S) must not be set");
            elapsed
        });
    });
    group.bench_function(format!("baseline_{dispatches}_plain_calls"), |b| {
        let data = Mutex::new([1u8, 2, 3, 4]);
        let mut out = [0u8; 4];
        b.iter(|| {
            for _ in 0..dispatches {
                black_box(baseline_dispatch(black_box(&data), &mut out));
            }
        });
    });
    group.finish();
}

criterion_group!(benches, sim_wdm1_test);
criterion_main!(benches);
