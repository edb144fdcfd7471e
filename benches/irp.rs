//! IRP-path benchmarks with in-run baselines (docs/PERFORMANCE.md).
//!
//! `irp_stack_3` (group 1): a synchronous IRP through upper filter → FDO →
//! PDO (src/bench/stack3.rs) against the same work as a plain call
//! chain and as a chain of crossbeam channel hops (src/bench/chain.rs).
//! Its `…_sender_hand_off_thread_local` lines take the sender's own
//! hand-off (context and mutex) out, to show the I/O manager's share.
//!
//! `wdm1_read` (group 2): a Win32 ReadFile through the whole path: handle
//! lookup → the I/O manager builds the IRP → IoCallDriver → the driver's
//! read (copy under a spin lock) → IoCompleteRequest → the caller gets its
//! bytes. Buffered I/O is Wdm1 (Wdm1Read: BufferLock, the copy, two trace
//! lines; the I/O manager copies the system buffer back), 4 bytes and
//! 4 KiB; direct I/O is a bench driver (src/bench/direct.rs, an MDL
//! over the caller's buffer), the same sizes. The baseline is the work that
//! is left without a kernel: a copy of the same size under a `parking_lot`
//! mutex through a plain function call.
//!
//! `irp_pended` (group 3): a 4-byte ReadFile on a synchronous handle whose
//! driver pends the IRP (IoMarkIrpPending, STATUS_PENDING) and completes it
//! from a DPC (src/bench/pended.rs): queued by the dispatch routine on
//! its own processor, targeted at the other processor, or run by a timer
//! due at once. The sender is a synchronous Win32 read because that is the
//! caller of group 2: the difference to `wdm1_read/wdmsim_threaded` is what
//! pending costs, and the I/O manager's own wait (KeWaitForSingleObject on
//! the request's event after STATUS_PENDING) is the one being measured.
//! Baselines: the same handoff as a message to a worker thread and back
//! through crossbeam channels (a message-passing design; both ends spin
//! briefly before they sleep), the same with the sender blocking on a
//! condition variable at once as threaded mode's waits do, and as plain
//! calls (park the request, take it back, copy, complete).
//!
//! Run: `cargo bench --bench irp`, `-- --quick`, or `-- --test` (CI smoke;
//! plain `cargo test` runs each benchmark once too).

// Benches measure host wall time on purpose.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

mod common;

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main};
use crossbeam_channel::bounded;

use wdmsim::bench::{Completer, Stack3, chain, install_direct, install_pended};
use wdmsim::drivers::wdm1;
use wdmsim::sync::Mutex;
use wdmsim::win32::*;
use wdmsim::{Machine, io, pnp};

use common::short;

/// The bytes a device holds: 0, 1, 2, … (mod 256).
fn pattern<const N: usize>() -> [u8; N] {
    std::array::from_fn(|i| i as u8)
}

fn open(path: &str) -> Handle {
    let h = create_file(path, GENERIC_READ | GENERIC_WRITE, 0, OPEN_EXISTING, 0);
    assert_ne!(h, INVALID_HANDLE_VALUE, "CreateFile({path}): {}", get_last_error());
    h
}

/// Times `iters` reads of `N` bytes on `h`, checks the last one against
/// `expected`, and closes `h`.
fn time_reads<const N: usize>(h: Handle, iters: u64, expected: &[u8; N]) -> Duration {
    let mut n = 0;
    let mut buffer = [0u8; N];
    let start = Instant::now();
    for _ in 0..iters {
        read_file(h, black_box(&mut buffer), N as u32, &mut n);
    }
    let elapsed = start.elapsed();
    assert_eq!(n as usize, N);
    assert_eq!(&buffer, expected);
    close_handle(h);
    elapsed
}

/// Boots Wdm1 with `N` bytes in its buffer, opens it, and times `iters`
/// reads of all of them.
fn timed_reads<const N: usize>(iters: u64) -> Duration {
    pnp::install(wdm1::package());
    let node = pnp::add_root_device(wdm1::HARDWARE_ID).expect("start");
    let link = io::get_device_interfaces(&wdm1::WDM1_GUID).remove(0);
    let h = open(&io::device_path(&link));
    let data = pattern::<N>();
    let mut n = 0;
    assert!(write_file(h, &data, N as u32, &mut n));
    let elapsed = time_reads(h, iters, &data);
    pnp::remove_device(node).expect("removal");
    elapsed
}

/// Installs the direct-I/O driver with `N` bytes and times `iters` reads
/// of all of them.
fn direct_reads<const N: usize>(iters: u64) -> Duration {
    let data = pattern::<N>();
    let h = open(&install_direct(data.to_vec()).expect("the direct device"));
    time_reads(h, iters, &data)
}

#[inline(never)]
fn baseline_read<const N: usize>(shared: &Mutex<Vec<u8>>, out: &mut [u8; N]) -> usize {
    let buffer = shared.lock();
    out.copy_from_slice(&buffer[..N]);
    N
}

/// Group 2.
fn wdm1_read(c: &mut Criterion) {
    let mut group = short(c, "wdm1_read");
    group.throughput(Throughput::Elements(1));
    // 4 bytes, buffered (Wdm1).
    group.bench_function("wdmsim_threaded", |b| {
        b.iter_custom(|iters| {
            Machine::threaded().processors(1).run(move || timed_reads::<4>(iters)).value()
        });
    });
    group.bench_function("wdmsim_threaded_no_io_verification", |b| {
        b.iter_custom(|iters| {
            let machine = Machine::threaded().processors(1).io_verification(false);
            machine.run(move || timed_reads::<4>(iters)).value()
        });
    });
    group.bench_function("wdmsim_sim", |b| {
        b.iter_custom(|iters| {
            // A timed batch runs millions of scheduling steps.
            let machine = Machine::sim().processors(1).trace(false).steps_max(u64::MAX);
            machine.run(move || timed_reads::<4>(iters)).value()
        });
    });
    group.bench_function("baseline_locked_copy", |b| {
        let shared = Mutex::new(pattern::<4>().to_vec());
        let mut out = [0u8; 4];
        b.iter(|| baseline_read(black_box(&shared), &mut out));
    });
    // 4 KiB, buffered (Wdm1).
    group.bench_function("wdmsim_threaded_4k", |b| {
        b.iter_custom(|iters| {
            Machine::threaded().processors(1).run(move || timed_reads::<4096>(iters)).value()
        });
    });
    // Direct I/O, 4 bytes and 4 KiB.
    group.bench_function("direct_threaded", |b| {
        b.iter_custom(|iters| {
            Machine::threaded().processors(1).run(move || direct_reads::<4>(iters)).value()
        });
    });
    group.bench_function("direct_threaded_4k", |b| {
        b.iter_custom(|iters| {
            Machine::threaded().processors(1).run(move || direct_reads::<4096>(iters)).value()
        });
    });
    group.bench_function("baseline_locked_copy_4k", |b| {
        let shared = Mutex::new(pattern::<4096>().to_vec());
        let mut out = [0u8; 4096];
        b.iter(|| baseline_read(black_box(&shared), &mut out));
    });
    group.finish();
}

/// Opens the pending driver with `completer` and times `iters` 4-byte
/// reads, each pended and completed by the DPC.
fn pended_reads(completer: Completer, iters: u64) -> Duration {
    let h = open(&install_pended(completer).expect("the pending device"));
    time_reads(h, iters, &[1, 2, 3, 4])
}

/// The plain-call baseline's dispatch routine: parks the request.
#[inline(never)]
fn baseline_pend(slot: &Mutex<Option<[u8; 4]>>, buffer: [u8; 4]) {
    *slot.lock() = Some(buffer);
}

/// The plain-call baseline's DPC: takes the request back, copies the data
/// in, completes it (returns it to the sender).
#[inline(never)]
fn baseline_dpc(slot: &Mutex<Option<[u8; 4]>>, data: &Mutex<[u8; 4]>) -> Option<[u8; 4]> {
    let mut buffer = slot.lock().take()?;
    buffer.copy_from_slice(&*data.lock());
    Some(buffer)
}

/// Group 3.
fn irp_pended(c: &mut Criterion) {
    let mut group = short(c, "irp_pended");
    group.throughput(Throughput::Elements(1));
    for (name, completer) in [
        ("dpc_threaded", Completer::Dpc),
        ("dpc_on_processor_1_threaded", Completer::DpcOnProcessor1),
        ("timer_dpc_threaded", Completer::Timer),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let machine = Machine::threaded().processors(2);
                machine.run(move || pended_reads(completer, iters)).value()
            });
        });
    }
    group.bench_function("baseline_channel_worker", |b| {
        let data = Arc::new(Mutex::new([1u8, 2, 3, 4]));
        let (to_worker, requests) = bounded::<[u8; 4]>(1);
        let (to_sender, replies) = bounded::<[u8; 4]>(1);
        let worker = std::thread::spawn(move || {
            for mut buffer in requests {
                buffer.copy_from_slice(&*data.lock());
                if to_sender.send(buffer).is_err() {
                    break;
                }
            }
        });
        b.iter(|| {
            to_worker.send(black_box([0; 4])).expect("the worker");
            replies.recv().expect("the worker")
        });
        drop(to_worker);
        worker.join().expect("the worker ends");
    });
    group.bench_function("baseline_channel_worker_blocking_wait", |b| {
        // The sender waits as threaded mode's KeWaitForSingleObject does: it
        // blocks on a condition variable at once, without spinning first.
        let data = Arc::new(Mutex::new([1u8, 2, 3, 4]));
        let done =
            Arc::new((parking_lot::Mutex::new(None::<[u8; 4]>), parking_lot::Condvar::new()));
        let (to_worker, requests) = bounded::<[u8; 4]>(1);
        let completed = Arc::clone(&done);
        let worker = std::thread::spawn(move || {
            for mut buffer in requests {
                buffer.copy_from_slice(&*data.lock());
                let (slot, signal) = &*completed;
                *slot.lock() = Some(buffer);
                signal.notify_all();
            }
        });
        b.iter(|| {
            to_worker.send(black_box([0; 4])).expect("the worker");
            let (slot, signal) = &*done;
            let mut reply = slot.lock();
            loop {
                if let Some(buffer) = reply.take() {
                    break buffer;
                }
                signal.wait(&mut reply);
            }
        });
        drop(to_worker);
        worker.join().expect("the worker ends");
    });
    group.bench_function("baseline_call", |b| {
        let data = Mutex::new([1u8, 2, 3, 4]);
        let slot = Mutex::new(None);
        b.iter(|| {
            baseline_pend(black_box(&slot), [0; 4]);
            baseline_dpc(black_box(&slot), &data)
        });
    });
    group.finish();
}

/// Group 1's wdmsim lines for one sender, with and without I/O
/// verification. Generic, so the read is inlined as the sender's code.
fn stack_3_sender<R>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, read: R)
where
    R: Fn(&mut Stack3) -> usize + Copy + Send + 'static,
{
    let timed = move |iters: u64| {
        let mut stack = Stack3::new().expect("the stack");
        let start = Instant::now();
        for _ in 0..iters {
            black_box(read(&mut stack));
        }
        let elapsed = start.elapsed();
        assert_eq!(stack.buffer(), [1, 2, 3, 4]);
        elapsed
    };
    group.bench_function(name, |b| {
        b.iter_custom(|iters| Machine::threaded().processors(1).run(move || timed(iters)).value());
    });
    group.bench_function(format!("{name}_no_io_verification"), |b| {
        b.iter_custom(|iters| {
            let machine = Machine::threaded().processors(1).io_verification(false);
            machine.run(move || timed(iters)).value()
        });
    });
}

/// Group 1: a synchronous IRP through upper filter → FDO → PDO.
fn irp_stack_3(c: &mut Criterion) {
    let mut group = short(c, "irp_stack_3");
    group.throughput(Throughput::Elements(1));
    // The sender of the target (`Stack3::read`), and the same path with
    // the sender's hand-off through a thread-local (`Stack3::read_here`):
    // the I/O manager's own share.
    stack_3_sender(&mut group, "wdmsim_threaded", Stack3::read);
    stack_3_sender(&mut group, "wdmsim_threaded_sender_hand_off_thread_local", Stack3::read_here);
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

criterion_group!(benches, irp_stack_3, wdm1_read, irp_pended);
criterion_main!(benches);
