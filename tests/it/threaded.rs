//! Threaded mode: the same kernel API on real OS threads. These tests assert
//! outcomes only (counts, orders within one thread, statuses), never timing.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::support::{Log, bug_check_of};
use wdmsim::Machine;
use wdmsim::ddk::*;

#[test]
fn a_spin_lock_counter_is_exact_on_real_threads() {
    let run = Machine::threaded().processors(2).run(|| {
        let typed = Arc::new(SpinLock::named("typed", 0u64));
        let raw = Arc::new(KSpinLock::named("raw"));
        let raw_count = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let (typed, raw, raw_count) = (typed.clone(), raw.clone(), raw_count.clone());
                ps_create_system_thread(move || {
                    for _ in 0..20_000 {
                        *typed.acquire() += 1;
                        let old = ke_acquire_spin_lock(&raw);
                        // A non-atomic read-modify-write, correct only under the lock.
                        let v = raw_count.load(Ordering::Relaxed);
                        raw_count.store(v + 1, Ordering::Relaxed);
                        ke_release_spin_lock(&raw, old);
                    }
                })
                .expect("PASSIVE_LEVEL")
            })
            .collect();
        for t in &threads {
            assert_eq!(ke_wait_for_single_object(t, None), STATUS_SUCCESS);
        }
        let typed = *typed.acquire();
        (typed, raw_count.load(Ordering::Relaxed))
    });
    assert_eq!(run.value(), (80_000, 80_000));
}

#[test]
fn dpcs_keep_their_irql_rules_on_real_threads() {
    let run = Machine::threaded().processors(2).run(|| {
        let log = Log::default();
        let l = log.clone();
        let dpc = Dpc::new(move |_, a, _| l.push(format!("dpc {a} at {}", ke_get_current_irql())));
        log.push("passive: before");
        assert!(ke_insert_queue_dpc(&dpc, 1, 0));
        log.push("passive: after");

        let lock = KSpinLock::new();
        let old = ke_acquire_spin_lock(&lock);
        assert!(ke_insert_queue_dpc(&dpc, 2, 0));
        assert!(!ke_insert_queue_dpc(&dpc, 3, 0), "coalesced while queued");
        log.push("dispatch: queued");
        ke_release_spin_lock(&lock, old);
        log.push("dispatch: released");
        log.lines()
    });
    assert_eq!(
        run.value(),
        [
            "passive: before",
            "dpc 1 at DISPATCH_LEVEL",
            "passive: after",
            "dispatch: queued",
            "dpc 2 at DISPATCH_LEVEL",
            "dispatch: released"
        ]
    );
}

#[test]
fn targeted_dpcs_run_on_their_processors_worker() {
    let run = Machine::threaded().processors(3).run(|| {
        let done = Event::new(EventType::SynchronizationEvent, false);
        let ran_on = Arc::new(AtomicU32::new(u32::MAX));
        let (d, r) = (done.clone(), ran_on.clone());
        let dpc = Dpc::new(move |_, _, _| {
            r.store(ke_get_current_processor_number(), Ordering::SeqCst);
            ke_set_event(&d, 0, false);
        });
        ke_set_target_processor_dpc(&dpc, 2);
        ke_insert_queue_dpc(&dpc, 0, 0);
        ke_wait_for_single_object(&done, None);
        ran_on.load(Ordering::SeqCst)
    });
    assert_eq!(run.value(), 2);
}

#[test]
fn periodic_timers_fire_on_the_real_clock() {
    let run = Machine::threaded().processors(2).run(|| {
        let fifth = Event::new(EventType::NotificationEvent, false);
        let count = Arc::new(AtomicU32::new(0));
        let (f, c) = (fifth.clone(), count.clone());
        let dpc = Dpc::new(move |_, _, _| {
            if c.fetch_add(1, Ordering::SeqCst) + 1 == 5 {
                ke_set_event(&f, 0, false);
            }
        });
        let timer = Timer::new();
        ke_set_timer_ex(&timer, Interval::relative_ms(1), 2, Some(&dpc));
        let status = ke_wait_for_single_object(&fifth, Some(Interval::relative_secs(30)));
        let cancelled = ke_cancel_timer(&timer);
        (status, cancelled, ke_read_state_timer(&timer))
    });
    assert_eq!(run.value(), (STATUS_SUCCESS, true, true));
}

#[test]
fn waits_time_out_and_wake_on_real_threads() {
    let run = Machine::threaded().processors(2).run(|| {
        let never = Event::new(EventType::NotificationEvent, false);
        let timed_out = ke_wait_for_single_object(&never, Some(Interval::relative_ms(5)));
        let go = Event::new(EventType::SynchronizationEvent, false);
        let g = go.clone();
        let setter = ps_create_system_thread(move || {
            ke_delay_execution_thread(Interval::relative_ms(2));
            ke_set_event(&g, 0, false);
        })
        .expect("PASSIVE_LEVEL");
        let woken = ke_wait_for_multiple_objects(&[&never, &go], WaitType::Any, None);
        let joined = ke_wait_for_single_object(&setter, None);
        (timed_out, woken, joined, ke_read_state_event(&go))
    });
    assert_eq!(run.value(), (STATUS_TIMEOUT, STATUS_WAIT_1, STATUS_SUCCESS, false));
}

#[test]
fn interrupts_and_synchronize_execution_on_real_threads() {
    let run = Machine::threaded().processors(2).run(|| {
        let in_section = Arc::new(AtomicBool::new(false));
        let overlaps = Arc::new(AtomicU32::new(0));
        let serviced = Arc::new(AtomicU32::new(0));
        let done = Event::new(EventType::NotificationEvent, false);
        let (s, o, n, d) = (in_section.clone(), overlaps.clone(), serviced.clone(), done.clone());
        let dpc = Dpc::new(move |_, _, _| {
            ke_set_event(&d, 0, false);
        });
        let interrupt = io_connect_interrupt(InterruptConfig::for_irq(7), move || {
            assert_eq!(ke_get_current_irql(), Irql(20));
            if s.load(Ordering::SeqCst) {
                o.fetch_add(1, Ordering::SeqCst);
            }
            if n.fetch_add(1, Ordering::SeqCst) + 1 == 200 {
                ke_insert_queue_dpc(&dpc, 0, 0);
            }
            true
        })
        .expect("IRQ 7 is free");
        for _ in 0..200 {
            request_interrupt(7);
            ke_synchronize_execution(&interrupt, || {
                in_section.store(true, Ordering::SeqCst);
                std::hint::spin_loop();
                in_section.store(false, Ordering::SeqCst);
            });
        }
        ke_wait_for_single_object(&done, None);
        io_disconnect_interrupt(interrupt);
        (serviced.load(Ordering::SeqCst), overlaps.load(Ordering::SeqCst))
    });
    assert_eq!(run.value(), (200, 0));
}

#[test]
fn a_bug_check_on_a_system_thread_ends_the_run_with_a_value() {
    let run = Machine::threaded().processors(2).run(|| {
        let never = Event::new(EventType::NotificationEvent, false);
        ps_create_system_thread(|| ke_lower_irql(HIGH_LEVEL)).expect("PASSIVE_LEVEL");
        // The bug check stops the machine and wakes this wait, which unwinds.
        ke_wait_for_single_object(&never, None);
    });
    let check = bug_check_of(&run);
    assert_eq!(check.params[..3], [0x31, 0, 31]);
}

#[test]
fn a_bug_check_on_the_scenario_thread_ends_the_run_with_a_value() {
    let run = Machine::threaded().run(|| {
        let lock = KSpinLock::new();
        let _old = ke_acquire_spin_lock(&lock);
        ke_acquire_spin_lock_at_dpc_level(&lock);
    });
    assert_eq!(bug_check_of(&run).params[0], 0x1000);
}
