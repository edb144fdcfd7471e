//! Determinism is a feature: the same seed gives the same trace, byte for
//! byte, over a scenario that uses every part of the machine.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use wdmsim::Machine;
use wdmsim::ddk::*;

/// Threads, a shared spin lock, an interrupt with its DPC, a periodic timer,
/// events and time-outs on three processors.
pub fn busy_machine() -> u32 {
    let total = Arc::new(SpinLock::named("total", 0u32));
    let done = Event::named("done", EventType::NotificationEvent, false);
    let (t, d) = (total.clone(), done.clone());
    let dpc = Dpc::named("DpcForIsr", move |_, count, _| {
        *t.acquire_at_dpc_level() += count as u32;
        if count == 3 {
            ke_set_event(&d, 0, false);
        }
    });
    let requests = Arc::new(AtomicU32::new(0));
    let r = requests.clone();
    let interrupt = io_connect_interrupt(
        InterruptConfig { name: Some("dev"), ..InterruptConfig::for_irq(5) },
        move || {
            let n = r.fetch_add(1, Ordering::SeqCst) + 1;
            ke_insert_queue_dpc(&dpc, n as usize, 0);
            true
        },
    )
    .expect("IRQ 5 is free");
    let ticks = Arc::new(AtomicU32::new(0));
    let k = ticks.clone();
    let tick = Dpc::named("tick", move |_, _, _| {
        k.fetch_add(1, Ordering::SeqCst);
    });
    let timer = Timer::named("periodic", TimerType::NotificationTimer);
    ke_set_timer_ex(&timer, Interval::relative_us(20), 1, Some(&tick));
    let workers: Vec<_> = (0..3)
        .map(|i| {
            let total = total.clone();
            ps_create_system_thread(move || {
                for _ in 0..4 {
                    *total.acquire() += 10;
                    ke_stall_execution_processor(3);
                }
                if i == 0 {
                    for _ in 0..3 {
                        request_interrupt(5);
                        ke_delay_execution_thread(Interval::relative_us(50));
                    }
                }
            })
            .expect("PASSIVE_LEVEL")
        })
        .collect();
    for w in &workers {
        ke_wait_for_single_object(w, None);
    }
    ke_wait_for_single_object(&done, Some(Interval::relative_ms(10)));
    ke_cancel_timer(&timer);
    io_disconnect_interrupt(interrupt);
    *total.acquire()
}

#[test]
fn the_same_seed_twice_gives_byte_identical_traces_over_1000_seeds() {
    for seed in 0..1000 {
        let machine = Machine::sim().processors(3).seed(seed);
        let first = machine.run(busy_machine);
        let second = machine.run(busy_machine);
        assert!(first.is_ok(), "{}", first.report());
        assert!(first.trace.len() > 100, "a non-trivial trace");
        assert_eq!(first.trace.to_string(), second.trace.to_string(), "seed {seed}");
        assert_eq!(first.steps, second.steps);
        assert_eq!(first.value(), second.value());
    }
}

#[test]
fn pct_runs_are_deterministic_too() {
    for seed in 0..100 {
        let machine = Machine::sim().processors(2).pct(3).seed(seed);
        assert_eq!(
            machine.run(busy_machine).trace.to_string(),
            machine.run(busy_machine).trace.to_string()
        );
    }
}

#[test]
fn different_seeds_explore_different_interleavings() {
    let traces: std::collections::BTreeSet<String> = (0..50)
        .map(|seed| Machine::sim().processors(3).seed(seed).run(busy_machine).trace.to_string())
        .collect();
    assert!(traces.len() > 40, "only {} distinct traces", traces.len());
}

#[test]
fn the_result_is_the_same_under_every_seed() {
    Machine::sim().processors(3).explore(0..300, || assert_eq!(busy_machine() % 10, 6)).assert_ok();
}
