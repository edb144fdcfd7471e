//! KTIMER: one-shot and periodic expiry on the virtual clock, cancel, re-arm,
//! synchronization timers, and stalls that run into a timer.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use wdmsim::Machine;
use wdmsim::ddk::*;
use wdmsim::sim::clock::TICKS_PER_SECOND;

#[test]
fn a_periodic_timer_fires_exactly_1800_times_in_30_virtual_minutes() {
    for processors in [1, 2, 4] {
        let run = Machine::sim().processors(processors).seed(u64::from(processors)).run(|| {
            let fired = Arc::new(AtomicU32::new(0));
            let last_at = Arc::new(AtomicU64::new(0));
            let (f, l) = (fired.clone(), last_at.clone());
            let dpc = Dpc::named("tick", move |_, _, _| {
                f.fetch_add(1, Ordering::SeqCst);
                l.store(ke_query_interrupt_time(), Ordering::SeqCst);
            });
            let timer = Timer::named("every second", TimerType::NotificationTimer);
            ke_set_timer_ex(&timer, Interval::relative_secs(1), 1000, Some(&dpc));
            ke_delay_execution_thread(Interval::relative_ms(30 * 60 * 1000 + 500));
            assert!(ke_cancel_timer(&timer), "still armed");
            (fired.load(Ordering::SeqCst), last_at.load(Ordering::SeqCst))
        });
        assert_eq!(run.value_ref(), &(1800, 1800 * TICKS_PER_SECOND));
        assert_eq!(run.now_ticks, 1800 * TICKS_PER_SECOND + 5_000_000);
        // No busy loop: a few scheduling steps per expiry.
        assert!(run.steps < 1800 * 8, "{} steps", run.steps);
    }
}

#[test]
fn a_one_shot_timer_signals_its_waiters_once_and_can_be_re_armed() {
    let run = Machine::sim().run(|| {
        let timer = Timer::new();
        let armed_before = ke_set_timer(&timer, Interval::relative_ms(5), None);
        let rearmed = ke_set_timer(&timer, Interval::relative_ms(20), None);
        assert!(!ke_read_state_timer(&timer));
        let status = ke_wait_for_single_object(&timer, None);
        let at = ke_query_interrupt_time();
        let signaled = ke_read_state_timer(&timer);
        let cancel_after_expiry = ke_cancel_timer(&timer);
        (armed_before, rearmed, status, at, signaled, cancel_after_expiry)
    });
    // The re-arm replaced the 5 ms due time with 20 ms.
    assert_eq!(run.value(), (false, true, STATUS_SUCCESS, 200_000, true, false));
}

#[test]
fn a_cancelled_timer_never_fires() {
    let run = Machine::sim().run(|| {
        let fired = Arc::new(AtomicU32::new(0));
        let f = fired.clone();
        let dpc = Dpc::new(move |_, _, _| {
            f.fetch_add(1, Ordering::SeqCst);
        });
        let timer = Timer::new();
        ke_set_timer(&timer, Interval::relative_ms(5), Some(&dpc));
        let cancelled = ke_cancel_timer(&timer);
        ke_delay_execution_thread(Interval::relative_ms(50));
        (cancelled, fired.load(Ordering::SeqCst), ke_read_state_timer(&timer))
    });
    assert_eq!(run.value(), (true, 0, false));
}

#[test]
fn a_synchronization_timer_releases_one_waiter() {
    let run = Machine::sim().processors(2).run(|| {
        let timer = Timer::new_ex(TimerType::SynchronizationTimer);
        let woken = Arc::new(AtomicU32::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (t, w) = (timer.clone(), woken.clone());
                ps_create_system_thread(move || {
                    if ke_wait_for_single_object(&t, Some(Interval::relative_ms(100)))
                        == STATUS_SUCCESS
                    {
                        w.fetch_add(1, Ordering::SeqCst);
                    }
                })
                .expect("PASSIVE_LEVEL")
            })
            .collect();
        ke_set_timer(&timer, Interval::relative_ms(10), None);
        for t in &threads {
            ke_wait_for_single_object(t, None);
        }
        woken.load(Ordering::SeqCst)
    });
    assert_eq!(run.value(), 1);
}

#[test]
fn a_timer_due_during_a_stall_at_dispatch_runs_its_dpc_after_the_irql_drops() {
    let run = Machine::sim().processors(1).run(|| {
        let order = Arc::new(AtomicU32::new(0));
        let dpc_saw = Arc::new(AtomicU32::new(0));
        let (o, d) = (order.clone(), dpc_saw.clone());
        let dpc = Dpc::new(move |_, _, _| d.store(o.load(Ordering::SeqCst), Ordering::SeqCst));
        let timer = Timer::new();
        ke_set_timer(&timer, Interval::relative_us(30), Some(&dpc));
        let old = ke_raise_irql(DISPATCH_LEVEL);
        ke_stall_execution_processor(50); // the timer expires in here
        let expired_during_stall = ke_read_state_timer(&timer);
        order.store(1, Ordering::SeqCst);
        ke_lower_irql(old);
        order.store(2, Ordering::SeqCst);
        (expired_during_stall, dpc_saw.load(Ordering::SeqCst), ke_query_interrupt_time())
    });
    // The DPC ran between the two stores: after the stall, before lowering returned.
    assert_eq!(run.value(), (true, 1, 500));
}

#[test]
fn a_timer_set_in_the_past_expires_at_once() {
    let run = Machine::sim().run(|| {
        let timer = Timer::new();
        ke_delay_execution_thread(Interval::relative_ms(1));
        // An absolute due time before now.
        ke_set_timer(&timer, Interval::absolute(ke_query_system_time() - 5), None);
        let status = ke_wait_for_single_object(&timer, Some(Interval::relative_ms(1)));
        (status, ke_query_interrupt_time())
    });
    assert_eq!(run.value(), (STATUS_SUCCESS, 10_000));
}
