//! IRQL: raising, lowering, the levels calls require, and the bug checks
//! for breaking those rules.

use crate::support::bug_check_of;
use wdmsim::Machine;
use wdmsim::ddk::*;

#[test]
fn raise_and_lower_round_trip() {
    let run = Machine::sim().run(|| {
        assert_eq!(ke_get_current_irql(), PASSIVE_LEVEL);
        let old = ke_raise_irql(DISPATCH_LEVEL);
        let high = ke_raise_irql(HIGH_LEVEL);
        let at_high = ke_get_current_irql();
        ke_lower_irql(high);
        let at_dispatch = ke_get_current_irql();
        ke_lower_irql(old);
        let to_dpc = ke_raise_irql_to_dpc_level();
        let at_dpc = ke_get_current_irql();
        ke_lower_irql(to_dpc);
        (old, high, at_high, at_dispatch, ke_get_current_irql(), to_dpc, at_dpc)
    });
    assert_eq!(
        run.value(),
        (
            PASSIVE_LEVEL,
            DISPATCH_LEVEL,
            HIGH_LEVEL,
            DISPATCH_LEVEL,
            PASSIVE_LEVEL,
            PASSIVE_LEVEL,
            DISPATCH_LEVEL
        )
    );
}

#[test]
fn raising_to_a_lower_level_is_bug_check_0xc4_0x30() {
    let run = Machine::sim().run(|| {
        ke_raise_irql(DISPATCH_LEVEL);
        ke_raise_irql(APC_LEVEL);
        unreachable!("the bug check ends the thread");
    });
    let check = bug_check_of(&run);
    assert_eq!(check.code, 0xC4);
    assert_eq!(check.params, [0x30, 2, 1, 0]);
    assert_eq!(check.code_name(), "DRIVER_VERIFIER_DETECTED_VIOLATION");
}

#[test]
fn raising_above_high_level_is_bug_check_0xc4_0x30() {
    let run = Machine::sim().run(|| {
        ke_raise_irql(Irql(40));
    });
    assert_eq!(bug_check_of(&run).params, [0x30, 0, 40, 0]);
}

#[test]
fn lowering_to_a_higher_level_is_bug_check_0xc4_0x31() {
    let run = Machine::sim().run(|| {
        ke_lower_irql(DISPATCH_LEVEL);
    });
    assert_eq!(bug_check_of(&run).params, [0x31, 0, 2, 0]);
}

#[test]
fn pageable_code_at_dispatch_level_is_bug_check_0xd1() {
    let run = Machine::sim().run(|| {
        paged_code(); // fine at PASSIVE_LEVEL
        let lock = KSpinLock::new();
        let _old = ke_acquire_spin_lock(&lock);
        paged_code();
    });
    let check = bug_check_of(&run);
    assert_eq!(check.code, 0xD1);
    assert_eq!((check.params[1], check.params[2]), (2, 8), "IRQL 2, execute");
    assert!(check.message.contains("ke_irql.rs"), "{}", check.message);
}

#[test]
fn a_passive_only_call_at_dispatch_is_driver_violation_0x121() {
    let run = Machine::sim().run(|| {
        ke_raise_irql(DISPATCH_LEVEL);
        let _ = ps_create_system_thread(|| {});
    });
    let check = bug_check_of(&run);
    assert_eq!(check.code, 0x121);
    assert_eq!(check.params[..3], [0x2, 2, 0], "sub-code 2: current IRQL, limit");
}

#[test]
fn a_system_thread_that_ends_at_raised_irql_is_bug_check_0x4a() {
    let run = Machine::sim().run(|| {
        ke_raise_irql(APC_LEVEL);
    });
    let check = bug_check_of(&run);
    assert_eq!(check.code, 0x4A);
    assert_eq!(check.params[1], 1);
}

#[test]
fn a_bug_check_ends_the_run_with_its_trace_and_the_test_process_goes_on() {
    let run = Machine::sim().seed(3).run(|| {
        ke_lower_irql(HIGH_LEVEL);
        42
    });
    assert!(run.result.is_err());
    let last = run.trace.records().last().expect("recorded");
    assert_eq!(run.trace.line(&last.event), "BUG CHECK 0xC4 (0x31)");
    let check = bug_check_of(&run);
    assert_eq!(check.recent.last().map(String::as_str), Some("0.0000000 BUG CHECK 0xC4 (0x31)"));
    assert!(check.recent.len() <= wdmsim::verifier::RECENT_LINES);
    let report = run.report();
    assert!(report.contains("*** STOP 0x000000C4 (0x31, 0x0, 0x1F, 0x0)"), "{report}");
    assert!(report.contains("replay: Machine::sim().processors(2).seed(0x3)"), "{report}");
}
