//! Exploration over seeds: a race found as a bug check and replayed from its
//! seed, livelocks stopped at the step limit, configuration errors, and the
//! proptest form.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use proptest::prelude::*;
use wdmsim::ddk::*;
use wdmsim::sim::Strategy;
use wdmsim::sim::{ConfigError, PROCESSORS_MAX};
use wdmsim::{Failure, Machine};

/// A toy driver with a real race: work is normally drained by its DPC at
/// DISPATCH_LEVEL with the AtDpcLevel lock calls, but the PASSIVE_LEVEL
/// thread sometimes steals it and runs the same code at the wrong IRQL.
fn racy_driver() {
    let pending = Arc::new(AtomicBool::new(false));
    let lock = Arc::new(KSpinLock::named("work"));
    let drain = {
        let (pending, lock) = (pending.clone(), lock.clone());
        move || {
            if pending.swap(false, Ordering::SeqCst) {
                ke_acquire_spin_lock_at_dpc_level(&lock); // assumes DISPATCH_LEVEL
                ke_release_spin_lock_from_dpc_level(&lock);
            }
        }
    };
    let dpc_drain = drain.clone();
    let p = pending.clone();
    let dpc = Dpc::named("producer", move |_, _, _| {
        p.store(true, Ordering::SeqCst);
        ke_stall_execution_processor(1);
        dpc_drain();
    });
    ke_set_target_processor_dpc(&dpc, 1);
    ke_insert_queue_dpc(&dpc, 0, 0);
    for _ in 0..3 {
        drain();
        ke_stall_execution_processor(1);
    }
    ke_delay_execution_thread(Interval::relative_ms(1));
}

#[test]
fn exploration_finds_a_race_as_a_bug_check_and_the_seed_replays_it() {
    let machine = Machine::sim().processors(2);
    let exploration = machine.explore(0..500, racy_driver);
    let run = exploration.failure.expect("some seed lets the thread steal the work");
    let check = run.failure().and_then(Failure::bug_check).expect("a bug check").clone();
    assert_eq!((check.code, check.params[0], check.params[1]), (0xC4, 0x40, 0));
    assert!(exploration.seeds_run <= 500);

    // The report says how to get it back, and that line does.
    assert!(run.replay.starts_with("Machine::sim().processors(2).seed("), "{}", run.replay);
    let replay = Machine::sim().processors(2).seed(run.seed).run(racy_driver);
    assert_eq!(replay.failure(), run.failure());
    assert_eq!(replay.trace.to_string(), run.trace.to_string());
    // Other seeds pass: the bug is in the interleaving, not the code path.
    assert!(machine.explore(0..run.seed, racy_driver).is_ok());
}

#[test]
fn pct_finds_the_same_race() {
    let exploration = Machine::sim().processors(2).pct(2).explore(0..500, racy_driver);
    let run = exploration.failure.expect("found");
    assert_eq!(run.failure().and_then(Failure::bug_check).map(|c| c.params[0]), Some(0x40));
    assert!(run.replay.contains(".pct(2)"), "{}", run.replay);
}

#[test]
fn a_livelock_stops_at_the_step_limit_with_a_report() {
    let run = Machine::sim().processors(2).steps_max(10_000).run(|| {
        let flag = Arc::new(AtomicBool::new(false));
        let f = flag.clone();
        ps_create_system_thread_named("spinner", move || {
            while !f.load(Ordering::SeqCst) {
                zw_yield_execution();
            }
        })
        .expect("PASSIVE_LEVEL");
        loop {
            zw_yield_execution(); // never sets the flag
        }
    });
    match run.failure() {
        Some(Failure::StepLimit(report)) => {
            assert_eq!(report.step, 10_000);
            let text = report.to_string();
            assert!(text.contains("\"spinner\"") && text.contains("\"main\""), "{text}");
        }
        other => panic!("expected the step limit, got {other:?}"),
    }
}

#[test]
fn processor_counts_outside_1_to_64_are_configuration_errors() {
    for n in [0, PROCESSORS_MAX + 1] {
        let run = Machine::sim().processors(n).run(|| ());
        assert_eq!(run.failure(), Some(&Failure::Config(ConfigError::Processors(n))));
        let run = Machine::threaded().processors(n).run(|| ());
        assert_eq!(run.failure(), Some(&Failure::Config(ConfigError::Processors(n))));
    }
    let run = Machine::sim().processors(PROCESSORS_MAX).run(|| {
        let dpc = Dpc::new(|_, _, _| {});
        ke_set_target_processor_dpc(&dpc, PROCESSORS_MAX - 1);
        ke_insert_queue_dpc(&dpc, 0, 0);
        ke_get_current_processor_number()
    });
    assert!(run.value() < PROCESSORS_MAX);
}

#[test]
fn a_panic_inside_the_scenario_comes_back_as_a_failure() {
    let run = Machine::sim().run(|| assert_eq!(1 + 1, 3, "arithmetic"));
    match run.failure() {
        Some(Failure::Panic(message)) => assert!(message.contains("arithmetic"), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_replay_line_names_the_strategy() {
    assert_eq!(Machine::sim().seed(255).replay_line(), "Machine::sim().processors(2).seed(0xff)");
    assert_eq!(
        Machine::sim().processors(4).strategy(Strategy::Pct { depth: 3, steps: 50 }).replay_line(),
        "Machine::sim().processors(4).strategy(Strategy::Pct { depth: 3, steps: 50 }).seed(0x0)"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The proptest form: the seed (and the machine size) as strategies.
    #[test]
    fn spin_lock_counting_is_exact_for_any_seed(seed in any::<u64>(), processors in 1u32..=4) {
        let run = Machine::sim().processors(processors).seed(seed).run(move || {
            let total = Arc::new(SpinLock::new(0u32));
            let threads: Vec<_> = (0..processors)
                .map(|_| {
                    let total = total.clone();
                    ps_create_system_thread(move || {
                        for _ in 0..5 {
                            let mut g = total.acquire();
                            let v = *g;
                            ke_stall_execution_processor(1);
                            *g = v + 1;
                        }
                    })
                    .expect("PASSIVE_LEVEL")
                })
                .collect();
            for t in &threads {
                ke_wait_for_single_object(t, None);
            }
            *total.acquire()
        });
        prop_assert!(run.is_ok(), "{}", run.report());
        prop_assert_eq!(run.value(), processors * 5);
    }
}
