//! KDPC: queuing, coalescing, removal, target processors, the IRQL they run
//! at and when, and the rules a DPC routine must keep.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::support::{Log, bug_check_of};
use wdmsim::Machine;
use wdmsim::ddk::*;

#[test]
fn queued_at_passive_it_runs_before_the_call_returns_on_the_same_processor() {
    for processors in [1, 2, 4] {
        Machine::sim()
            .processors(processors)
            .explore(0..200, || {
                let log = Log::default();
                let l = log.clone();
                let dpc = Dpc::named("d", move |_, a, b| {
                    l.push(format!(
                        "dpc {a} {b} at {} on cpu{}",
                        ke_get_current_irql(),
                        ke_get_current_processor_number()
                    ));
                });
                let cpu = ke_get_current_processor_number();
                log.push("before");
                assert!(ke_insert_queue_dpc(&dpc, 1, 2));
                log.push("after");
                assert_eq!(
                    log.lines(),
                    ["before", &format!("dpc 1 2 at DISPATCH_LEVEL on cpu{cpu}"), "after"]
                );
            })
            .assert_ok();
    }
}

#[test]
fn queued_at_dispatch_it_waits_until_the_processor_drops_below_dispatch() {
    Machine::sim()
        .processors(2)
        .explore(0..300, || {
            let log = Log::default();
            let l = log.clone();
            let dpc = Dpc::new(move |_, _, _| {
                l.push(format!("dpc on cpu{}", ke_get_current_processor_number()))
            });
            let lock = KSpinLock::named("held");
            let old = ke_acquire_spin_lock(&lock);
            let cpu = ke_get_current_processor_number();
            assert!(ke_insert_queue_dpc(&dpc, 0, 0));
            log.push("queued");
            // More kernel calls at DISPATCH_LEVEL: scheduling points, but the
            // DPC cannot run here.
            ke_stall_execution_processor(5);
            let inner = KSpinLock::new();
            ke_acquire_spin_lock_at_dpc_level(&inner);
            ke_release_spin_lock_from_dpc_level(&inner);
            log.push("still at dispatch");
            ke_release_spin_lock(&lock, old);
            log.push("after release");
            assert_eq!(
                log.lines(),
                ["queued", "still at dispatch", &format!("dpc on cpu{cpu}"), "after release"]
            );
        })
        .assert_ok();
}

#[test]
fn requests_coalesce_while_queued_and_the_first_arguments_stand() {
    let run = Machine::sim().processors(2).run(|| {
        let runs = Arc::new(AtomicU32::new(0));
        let seen = Arc::new(AtomicU32::new(0));
        let (r, s) = (runs.clone(), seen.clone());
        let dpc = Dpc::new(move |_, a, _| {
            r.fetch_add(1, Ordering::SeqCst);
            s.store(a as u32, Ordering::SeqCst);
        });
        let old = ke_raise_irql(DISPATCH_LEVEL);
        assert!(ke_insert_queue_dpc(&dpc, 7, 0));
        assert!(!ke_insert_queue_dpc(&dpc, 8, 0), "already queued");
        ke_lower_irql(old);
        assert!(ke_insert_queue_dpc(&dpc, 9, 0), "it ran, so it can be queued again");
        (runs.load(Ordering::SeqCst), seen.load(Ordering::SeqCst))
    });
    assert_eq!(run.value(), (2, 9));
}

#[test]
fn a_removed_dpc_never_runs() {
    let run = Machine::sim().run(|| {
        let runs = Arc::new(AtomicU32::new(0));
        let r = runs.clone();
        let dpc = Dpc::new(move |_, _, _| {
            r.fetch_add(1, Ordering::SeqCst);
        });
        let old = ke_raise_irql(DISPATCH_LEVEL);
        ke_insert_queue_dpc(&dpc, 0, 0);
        let removed = ke_remove_queue_dpc(&dpc);
        let removed_again = ke_remove_queue_dpc(&dpc);
        ke_lower_irql(old);
        (removed, removed_again, runs.load(Ordering::SeqCst))
    });
    assert_eq!(run.value(), (true, false, 0));
}

#[test]
fn a_targeted_dpc_runs_on_its_processor() {
    Machine::sim()
        .processors(4)
        .explore(0..100, || {
            let done = Event::new(EventType::NotificationEvent, false);
            let d = done.clone();
            let ran_on = Arc::new(AtomicU32::new(u32::MAX));
            let r = ran_on.clone();
            let dpc = Dpc::new(move |_, _, _| {
                r.store(ke_get_current_processor_number(), Ordering::SeqCst);
                ke_set_event(&d, 0, false);
            });
            ke_set_target_processor_dpc(&dpc, 3);
            ke_insert_queue_dpc(&dpc, 0, 0);
            ke_wait_for_single_object(&done, None);
            assert_eq!(ran_on.load(Ordering::SeqCst), 3);
        })
        .assert_ok();
}

#[test]
fn dpcs_of_one_processor_run_in_queue_order() {
    let run = Machine::sim().processors(1).run(|| {
        let log = Log::default();
        let dpcs: Vec<Dpc> = (0..3)
            .map(|i| {
                let l = log.clone();
                Dpc::new(move |_, _, _| l.push(format!("dpc{i}")))
            })
            .collect();
        let old = ke_raise_irql(DISPATCH_LEVEL);
        for dpc in dpcs.iter().rev() {
            ke_insert_queue_dpc(dpc, 0, 0);
        }
        ke_lower_irql(old);
        log.lines()
    });
    assert_eq!(run.value(), ["dpc2", "dpc1", "dpc0"]);
}

#[test]
fn a_dpc_that_returns_at_another_irql_is_bug_check_0xc8() {
    let run = Machine::sim().run(|| {
        let dpc = Dpc::named("broken", |_, _, _| {
            ke_raise_irql(Irql(5));
        });
        ke_insert_queue_dpc(&dpc, 0, 0);
    });
    let check = bug_check_of(&run);
    assert_eq!(check.code, 0xC8);
    assert_eq!(check.params[0], (5 << 16) | (2 << 8) | 2);
}

#[test]
fn lowering_below_dispatch_inside_a_dpc_is_bug_check_0xc4_0x31_with_p4_1() {
    let run = Machine::sim().run(|| {
        let dpc = Dpc::new(|_, _, _| ke_lower_irql(PASSIVE_LEVEL));
        ke_insert_queue_dpc(&dpc, 0, 0);
    });
    let check = bug_check_of(&run);
    assert_eq!(check.code, 0xC4);
    assert_eq!(check.params, [0x31, 2, 0, 1]);
}
