//! KEVENT and the waits: notification vs synchronization, WaitAny/WaitAll,
//! time-outs in virtual time, the IRQL rules of waiting, and deadlocks on
//! dispatcher objects.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::support::{Log, bug_check_of};
use wdmsim::ddk::*;
use wdmsim::{Failure, Machine};

/// Starts `n` threads that wait on `event` and count themselves out.
fn waiters(event: &Event, n: u32) -> (Vec<Thread>, Arc<AtomicU32>) {
    let woken = Arc::new(AtomicU32::new(0));
    let threads = (0..n)
        .map(|_| {
            let (e, w) = (event.clone(), woken.clone());
            ps_create_system_thread(move || {
                assert_eq!(ke_wait_for_single_object(&e, None), STATUS_SUCCESS);
                w.fetch_add(1, Ordering::SeqCst);
            })
            .expect("PASSIVE_LEVEL")
        })
        .collect();
    (threads, woken)
}

#[test]
fn a_notification_event_releases_every_waiter_and_stays_signaled() {
    Machine::sim()
        .processors(2)
        .explore(0..100, || {
            let event = Event::named("go", EventType::NotificationEvent, false);
            let (threads, woken) = waiters(&event, 3);
            assert!(!ke_set_event(&event, 0, false), "was not signaled");
            for t in &threads {
                ke_wait_for_single_object(t, None);
            }
            assert_eq!(woken.load(Ordering::SeqCst), 3);
            assert!(ke_read_state_event(&event));
            assert!(ke_reset_event(&event), "reset returns the previous state");
            assert!(!ke_read_state_event(&event));
        })
        .assert_ok();
}

#[test]
fn a_synchronization_event_releases_one_waiter_per_set() {
    Machine::sim()
        .processors(2)
        .explore(0..100, || {
            let event = Event::named("one", EventType::SynchronizationEvent, false);
            let (threads, woken) = waiters(&event, 3);
            for _ in 0..3 {
                ke_set_event(&event, 0, false);
                // Let a woken waiter run before signaling again.
                ke_delay_execution_thread(Interval::relative_ms(1));
            }
            for t in &threads {
                ke_wait_for_single_object(t, None);
            }
            assert_eq!(woken.load(Ordering::SeqCst), 3);
            assert!(!ke_read_state_event(&event), "each set was consumed");
        })
        .assert_ok();
}

#[test]
fn a_set_synchronization_event_with_no_waiter_satisfies_the_next_wait() {
    let run = Machine::sim().run(|| {
        let event = Event::new(EventType::SynchronizationEvent, false);
        ke_set_event(&event, 0, false);
        let first = ke_wait_for_single_object(&event, Some(Interval::ZERO));
        let second = ke_wait_for_single_object(&event, Some(Interval::ZERO));
        (first, second)
    });
    assert_eq!(run.value(), (STATUS_SUCCESS, STATUS_TIMEOUT));
}

#[test]
fn wait_any_reports_the_index_and_wait_all_needs_every_object() {
    let run = Machine::sim().run(|| {
        let a = Event::new(EventType::NotificationEvent, false);
        let b = Event::new(EventType::NotificationEvent, false);
        ke_set_event(&b, 0, false);
        let any = ke_wait_for_multiple_objects(&[&a, &b], WaitType::Any, None);
        let all_poll = ke_wait_for_multiple_objects(&[&a, &b], WaitType::All, Some(Interval::ZERO));
        ke_set_event(&a, 0, false);
        let all = ke_wait_for_multiple_objects(&[&a, &b], WaitType::All, Some(Interval::ZERO));
        let none: [&dyn Waitable; 0] = [];
        let empty = ke_wait_for_multiple_objects(&none, WaitType::Any, None);
        (any, all_poll, all, empty)
    });
    assert_eq!(
        run.value(),
        (STATUS_WAIT_1, STATUS_TIMEOUT, STATUS_SUCCESS, STATUS_INVALID_PARAMETER)
    );
}

#[test]
fn a_wait_times_out_at_the_exact_virtual_time() {
    let run = Machine::sim().run(|| {
        let event = Event::new(EventType::NotificationEvent, false);
        let start = ke_query_interrupt_time();
        let status = ke_wait_for_single_object(&event, Some(Interval::relative_ms(250)));
        (status, ke_query_interrupt_time() - start)
    });
    assert_eq!(run.value(), (STATUS_TIMEOUT, 2_500_000));
}

#[test]
fn a_wait_satisfied_before_its_time_out_cancels_it() {
    let run = Machine::sim().processors(2).run(|| {
        let event = Event::new(EventType::NotificationEvent, false);
        let e = event.clone();
        ps_create_system_thread(move || {
            ke_delay_execution_thread(Interval::relative_ms(10));
            ke_set_event(&e, 0, false);
        })
        .expect("PASSIVE_LEVEL");
        let status = ke_wait_for_single_object(&event, Some(Interval::relative_secs(5)));
        (status, ke_query_interrupt_time())
    });
    let (status, now) = run.value();
    assert_eq!(status, STATUS_SUCCESS);
    assert_eq!(now, 100_000, "woken at 10 ms, not at the 5 s time-out");
}

#[test]
fn the_clock_starts_at_boot_and_counts_ticks() {
    let run = Machine::sim().run(|| {
        let boot = ke_query_system_time();
        ke_delay_execution_thread(Interval::relative_secs(2));
        (boot, ke_query_system_time() - boot, ke_query_tick_count(), ke_query_time_increment())
    });
    // 2000-02-17 00:00:00 UTC in 100 ns units since 1601.
    assert_eq!(run.value(), (125_952_192_000_000_000, 20_000_000, 128, 156_250));
}

#[test]
fn waiting_at_dispatch_level_follows_driver_verifiers_rules() {
    let poll = Machine::sim().run(|| {
        let event = Event::new(EventType::NotificationEvent, false);
        let _old = ke_raise_irql(DISPATCH_LEVEL);
        let status = ke_wait_for_single_object(&event, Some(Interval::ZERO));
        ke_lower_irql(PASSIVE_LEVEL);
        status
    });
    assert_eq!(poll.value(), STATUS_TIMEOUT, "a zero time-out poll is legal at DISPATCH_LEVEL");

    let cases = [
        (DISPATCH_LEVEL, Some(Interval::relative_ms(1)), 0x122),
        (DISPATCH_LEVEL, None, 0x121),
        (Irql(5), Some(Interval::ZERO), 0x120),
    ];
    for (irql, timeout, subcode) in cases {
        let run = Machine::sim().run(move || {
            let event = Event::new(EventType::NotificationEvent, false);
            ke_raise_irql(irql);
            ke_wait_for_single_object(&event, timeout);
        });
        let check = bug_check_of(&run);
        assert_eq!(
            (check.code, check.params[0], check.params[1]),
            (0xC4, subcode, u64::from(irql.0))
        );
    }
}

#[test]
fn setting_an_event_above_dispatch_is_0xc4_0x80() {
    let run = Machine::sim().run(|| {
        let event = Event::new(EventType::NotificationEvent, false);
        ke_raise_irql(Irql(12));
        ke_set_event(&event, 0, false);
    });
    assert_eq!(bug_check_of(&run).params[..2], [0x80, 12]);
}

#[test]
fn waiting_on_more_than_64_objects_is_bug_check_0xc() {
    let run = Machine::sim().run(|| {
        let events: Vec<Event> =
            (0..65).map(|_| Event::new(EventType::NotificationEvent, true)).collect();
        let refs: Vec<&dyn Waitable> = events.iter().map(|e| e as &dyn Waitable).collect();
        ke_wait_for_multiple_objects(&refs, WaitType::Any, None);
    });
    assert_eq!(bug_check_of(&run).code, 0xC);
}

#[test]
fn a_wait_nobody_can_satisfy_is_a_deadlock_naming_the_object() {
    let run = Machine::sim().run(|| {
        let never = Event::named("never set", EventType::NotificationEvent, false);
        ke_wait_for_single_object(&never, None);
    });
    let report = run.failure().and_then(Failure::deadlock).expect("deadlock").to_string();
    assert!(report.contains("thread 0 \"main\" waits on event \"never set\""), "{report}");
}

#[test]
fn waiters_are_released_in_wait_order() {
    let run = Machine::sim().processors(1).run(|| {
        let log = Log::default();
        let event = Event::new(EventType::SynchronizationEvent, false);
        let threads: Vec<_> = (0..3)
            .map(|i| {
                let (e, l) = (event.clone(), log.clone());
                ps_create_system_thread(move || {
                    ke_wait_for_single_object(&e, None);
                    l.push(format!("t{i}"));
                    ke_set_event(&e, 0, false);
                })
                .expect("PASSIVE_LEVEL")
            })
            .collect();
        // On one processor the threads queue up in creation order once main waits.
        ke_delay_execution_thread(Interval::relative_ms(1));
        ke_set_event(&event, 0, false);
        for t in &threads {
            ke_wait_for_single_object(t, None);
        }
        log.lines()
    });
    assert_eq!(run.value(), ["t0", "t1", "t2"]);
}

#[test]
fn clear_event_and_a_thread_that_terminates_itself() {
    let run = Machine::sim().processors(2).run(|| {
        let event = Event::new(EventType::NotificationEvent, true);
        ke_clear_event(&event);
        let cleared = !ke_read_state_event(&event);
        let reached = std::sync::Arc::new(AtomicU32::new(0));
        let r = reached.clone();
        let thread = ps_create_system_thread_named("quitter", move || {
            r.store(1, Ordering::SeqCst);
            ps_terminate_system_thread(STATUS_SUCCESS);
        })
        .expect("PASSIVE_LEVEL");
        let status = ke_wait_for_single_object(&thread, None);
        (cleared, status, reached.load(Ordering::SeqCst))
    });
    assert_eq!(run.value_ref(), &(true, STATUS_SUCCESS, 1));
    assert!(run.trace.to_string().contains("exit thread 1 \"quitter\""));
}
