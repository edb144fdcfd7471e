//! Spin locks: mutual exclusion across processors under every seed, the
//! IRQL they run at, lock-order deadlocks, and the verifier's rules.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::support::bug_check_of;
use wdmsim::ddk::*;
use wdmsim::{Failure, Machine};

/// Threads on every processor race on a read-modify-write split by a
/// scheduling point; `guarded` decides whether a spin lock protects it.
fn race(threads: u32, rounds: u32, guarded: bool) -> u64 {
    let lock = Arc::new(SpinLock::named("counter", ()));
    let counter = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (lock, counter) = (lock.clone(), counter.clone());
            ps_create_system_thread(move || {
                for _ in 0..rounds {
                    let guard = guarded.then(|| lock.acquire());
                    let value = counter.load(Ordering::SeqCst);
                    ke_stall_execution_processor(1);
                    counter.store(value + 1, Ordering::SeqCst);
                    drop(guard);
                }
            })
            .expect("created at PASSIVE_LEVEL")
        })
        .collect();
    for worker in &workers {
        assert_eq!(ke_wait_for_single_object(worker, None), STATUS_SUCCESS);
    }
    counter.load(Ordering::SeqCst)
}

#[test]
fn a_counter_under_a_spin_lock_is_exact_under_every_seed() {
    for processors in [2, 4] {
        Machine::sim()
            .processors(processors)
            .explore(0..150, move || {
                assert_eq!(race(processors + 1, 10, true), u64::from((processors + 1) * 10))
            })
            .assert_ok();
        Machine::sim()
            .processors(processors)
            .pct(3)
            .explore(0..150, move || {
                assert_eq!(race(processors + 1, 10, true), u64::from((processors + 1) * 10))
            })
            .assert_ok();
    }
}

#[test]
fn without_the_lock_some_seed_loses_an_update() {
    // The control experiment: the scheduler really interleaves processors.
    let exploration =
        Machine::sim().processors(2).explore(0..200, || assert_eq!(race(2, 10, false), 20));
    let run = exploration.failure.expect("some seed interleaves the unguarded updates");
    assert!(matches!(run.failure(), Some(Failure::Panic(_))), "{}", run.report());
    // And that seed replays to the same lost update.
    let replay = Machine::sim().processors(2).seed(run.seed).run(|| race(2, 10, false));
    assert!(replay.value() < 20);
}

#[test]
fn the_holder_runs_at_dispatch_level_and_release_restores_the_old_irql() {
    let run = Machine::sim().run(|| {
        let lock = KSpinLock::new();
        let old = ke_acquire_spin_lock(&lock);
        let inside = ke_get_current_irql();
        ke_release_spin_lock(&lock, old);
        let typed = SpinLock::new(5);
        let at = {
            let guard = typed.acquire();
            (*guard, ke_get_current_irql())
        };
        (old, inside, ke_get_current_irql(), at, ke_get_current_irql())
    });
    assert_eq!(
        run.value(),
        (PASSIVE_LEVEL, DISPATCH_LEVEL, PASSIVE_LEVEL, (5, DISPATCH_LEVEL), PASSIVE_LEVEL)
    );
}

/// Thread "ab" takes A then B; thread "ba" takes B then A.
fn ab_ba() {
    let a = Arc::new(KSpinLock::named("A"));
    let b = Arc::new(KSpinLock::named("B"));
    let order = [(a.clone(), b.clone(), "ab"), (b, a, "ba")];
    let threads: Vec<_> = order
        .into_iter()
        .map(|(first, second, name)| {
            ps_create_system_thread_named(name, move || {
                let old = ke_acquire_spin_lock(&first);
                ke_acquire_spin_lock_at_dpc_level(&second);
                ke_release_spin_lock_from_dpc_level(&second);
                ke_release_spin_lock(&first, old);
            })
            .expect("PASSIVE_LEVEL")
        })
        .collect();
    for thread in &threads {
        ke_wait_for_single_object(thread, None);
    }
}

#[test]
fn an_ab_ba_lock_pair_is_reported_as_a_deadlock_naming_both_locks_and_replays() {
    for machine in [Machine::sim().processors(2), Machine::sim().processors(2).pct(2)] {
        let exploration = machine.explore(0..500, ab_ba);
        let run = exploration.failure.expect("a bounded search finds the deadly embrace");
        let report = run.failure().and_then(Failure::deadlock).expect("a deadlock").clone();
        let text = report.to_string();
        assert!(text.contains("spins on lock \"A\""), "{text}");
        assert!(text.contains("spins on lock \"B\""), "{text}");
        assert!(text.contains("holds lock \"A\"") && text.contains("holds lock \"B\""), "{text}");
        let spinning: Vec<_> = report.cpus.iter().filter_map(|c| c.spinning_on.clone()).collect();
        assert_eq!(spinning.len(), 2);
        // Each processor spins on the lock the other holds.
        assert_ne!(spinning[0].1, spinning[1].1);

        // One line replays it: same failure, same trace.
        let replay = machine.clone().seed(run.seed).run(ab_ba);
        assert_eq!(replay.failure(), run.failure());
        assert_eq!(replay.trace.to_string(), run.trace.to_string());
    }
}

#[test]
fn acquiring_above_dispatch_is_bug_check_0xc4_0x42() {
    let run = Machine::sim().run(|| {
        ke_raise_irql(Irql(10));
        ke_acquire_spin_lock(&KSpinLock::named("L"));
    });
    let check = bug_check_of(&run);
    assert_eq!((check.code, check.params[0], check.params[1]), (0xC4, 0x42, 10));
}

#[test]
fn releasing_at_passive_is_bug_check_0xc4_0x32() {
    let run = Machine::sim().run(|| {
        let lock = KSpinLock::new();
        let old = ke_acquire_spin_lock(&lock);
        ke_lower_irql(old);
        ke_release_spin_lock(&lock, old);
    });
    let check = bug_check_of(&run);
    assert_eq!((check.code, check.params[0], check.params[1]), (0xC4, 0x32, 0));
}

#[test]
fn at_dpc_level_variants_below_dispatch_are_0xc4_0x40_and_0x41() {
    let acquire = Machine::sim().run(|| ke_acquire_spin_lock_at_dpc_level(&KSpinLock::new()));
    assert_eq!(bug_check_of(&acquire).params[..2], [0x40, 0]);
    let release = Machine::sim().run(|| ke_release_spin_lock_from_dpc_level(&KSpinLock::new()));
    assert_eq!(bug_check_of(&release).params[..2], [0x41, 0]);
}

#[test]
fn releasing_a_lock_nobody_holds_is_0xc4_0x1007() {
    let run = Machine::sim().run(|| {
        let old = ke_raise_irql(DISPATCH_LEVEL);
        ke_release_spin_lock(&KSpinLock::named("free"), old);
    });
    let check = bug_check_of(&run);
    assert_eq!((check.code, check.params[0]), (0xC4, 0x1007));
    assert!(check.message.contains("lock \"free\""), "{}", check.message);
}

#[test]
fn releasing_a_lock_another_processor_holds_is_0xc4_0x1004() {
    let run = Machine::sim().processors(2).run(|| {
        let lock = Arc::new(KSpinLock::named("theirs"));
        let held = Event::new(EventType::NotificationEvent, false);
        let (l, h) = (lock.clone(), held.clone());
        let holder = ps_create_system_thread(move || {
            let old = ke_acquire_spin_lock(&l);
            ke_set_event(&h, 0, false);
            // Keep holding it (a stall is a scheduling point at DISPATCH).
            loop {
                ke_stall_execution_processor(1);
                let _ = old;
            }
        })
        .expect("PASSIVE_LEVEL");
        ke_wait_for_single_object(&held, None);
        let old = ke_raise_irql(DISPATCH_LEVEL);
        ke_release_spin_lock(&lock, old);
        drop(holder);
    });
    let check = bug_check_of(&run);
    assert_eq!((check.code, check.params[0]), (0xC4, 0x1004));
    assert_ne!(check.params[2], check.params[3], "owner and releaser differ");
}

#[test]
fn acquiring_a_lock_the_processor_already_holds_is_0xc4_0x1000() {
    let run = Machine::sim().run(|| {
        let lock = KSpinLock::named("twice");
        let _old = ke_acquire_spin_lock(&lock);
        ke_acquire_spin_lock_at_dpc_level(&lock);
    });
    let check = bug_check_of(&run);
    assert_eq!((check.code, check.params[0]), (0xC4, 0x1000));
}
