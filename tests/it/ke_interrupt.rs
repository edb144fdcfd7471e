//! Interrupt objects: delivery at DIRQL, preemption of PASSIVE code, masking
//! at or above DIRQL, KeSynchronizeExecution, shared and level-sensitive
//! lines, and the connection rules.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use crate::support::{Log, bug_check_of};
use wdmsim::ddk::*;
use wdmsim::trace::Event as TraceEvent;
use wdmsim::{Machine, Run};

const IRQ: u8 = 7;

fn config(name: &'static str) -> InterruptConfig {
    InterruptConfig { name: Some(name), ..InterruptConfig::for_irq(IRQ) }
}

/// Every ISR in the trace entered from an IRQL below its line's DIRQL.
fn assert_isrs_entered_below_dirql<T>(run: &Run<T>) {
    for record in run.trace.records() {
        if let TraceEvent::IsrEnter { irq, from, .. } = record.event {
            assert!(from < irql_for_irq(irq), "{}", run.trace.line(&record.event));
        }
    }
}

#[test]
fn the_isr_runs_at_dirql_and_its_dpc_at_dispatch_level() {
    Machine::sim()
        .processors(2)
        .explore(0..100, || {
            let log = Log::default();
            let done = Event::new(EventType::NotificationEvent, false);
            let (l, d) = (log.clone(), done.clone());
            let dpc = Dpc::named("DpcForIsr", move |_, a, _| {
                l.push(format!("dpc {a} at {}", ke_get_current_irql()));
                ke_set_event(&d, 0, false);
            });
            let l = log.clone();
            let interrupt = io_connect_interrupt(config("port"), move || {
                l.push(format!("isr at {}", ke_get_current_irql()));
                ke_insert_queue_dpc(&dpc, 7, 0);
                true
            })
            .expect("IRQ 7 is free");
            request_interrupt(IRQ);
            ke_wait_for_single_object(&done, None);
            assert_eq!(log.lines(), ["isr at DIRQL 20", "dpc 7 at DISPATCH_LEVEL"]);
            io_disconnect_interrupt(interrupt);
        })
        .assert_ok();
}

/// One processor: a thread loops over kernel calls while an interrupt is
/// requested; returns whether the ISR ran while the loop was in progress.
fn passive_loop_with_interrupt() -> bool {
    let in_loop = Arc::new(AtomicBool::new(false));
    let isr_saw_loop = Arc::new(AtomicBool::new(false));
    let (flag, saw) = (in_loop.clone(), isr_saw_loop.clone());
    let interrupt = io_connect_interrupt(config("port"), move || {
        saw.store(flag.load(Ordering::SeqCst), Ordering::SeqCst);
        true
    })
    .expect("IRQ 7 is free");
    request_interrupt(IRQ);
    in_loop.store(true, Ordering::SeqCst);
    for _ in 0..10 {
        ke_stall_execution_processor(1);
    }
    in_loop.store(false, Ordering::SeqCst);
    ke_delay_execution_thread(Interval::relative_ms(1));
    io_disconnect_interrupt(interrupt);
    isr_saw_loop.load(Ordering::SeqCst)
}

#[test]
fn an_interrupt_preempts_passive_code_at_a_scheduling_point() {
    let machine = Machine::sim().processors(1);
    let preempted = (0..100)
        .filter(|&seed| {
            let run = machine.clone().seed(seed).run(passive_loop_with_interrupt);
            assert_isrs_entered_below_dirql(&run);
            run.value()
        })
        .count();
    // Some seeds deliver it in the middle of the loop, some before or after.
    assert!((1..100).contains(&preempted), "{preempted} of 100 seeds");
}

#[test]
fn no_interrupt_reaches_a_processor_at_or_above_its_dirql() {
    Machine::sim()
        .processors(1)
        .explore(0..200, || {
            let masked = Arc::new(AtomicBool::new(false));
            let violations = Arc::new(AtomicU32::new(0));
            let ran = Arc::new(AtomicU32::new(0));
            let (m, v, r) = (masked.clone(), violations.clone(), ran.clone());
            let interrupt = io_connect_interrupt(config("port"), move || {
                if m.load(Ordering::SeqCst) {
                    v.fetch_add(1, Ordering::SeqCst);
                }
                r.fetch_add(1, Ordering::SeqCst);
                true
            })
            .expect("IRQ 7 is free");
            let old = ke_raise_irql(irql_for_irq(IRQ));
            masked.store(true, Ordering::SeqCst);
            request_interrupt(IRQ);
            for _ in 0..5 {
                ke_stall_execution_processor(1);
            }
            masked.store(false, Ordering::SeqCst);
            ke_lower_irql(old);
            ke_delay_execution_thread(Interval::relative_ms(1));
            io_disconnect_interrupt(interrupt);
            assert_eq!(violations.load(Ordering::SeqCst), 0);
            assert_eq!(ran.load(Ordering::SeqCst), 1, "delivered once the IRQL dropped");
        })
        .assert_ok();
}

/// A device thread keeps interrupting while another thread runs critical
/// sections; returns how often the ISR found a critical section in progress.
fn critical_sections(synchronized: bool) -> u32 {
    let in_section = Arc::new(AtomicBool::new(false));
    let overlaps = Arc::new(AtomicU32::new(0));
    let (s, o) = (in_section.clone(), overlaps.clone());
    let interrupt = Arc::new(
        io_connect_interrupt(config("port"), move || {
            if s.load(Ordering::SeqCst) {
                o.fetch_add(1, Ordering::SeqCst);
            }
            true
        })
        .expect("IRQ 7 is free"),
    );
    let device = ps_create_system_thread_named("device", || {
        for _ in 0..6 {
            request_interrupt(IRQ);
            ke_stall_execution_processor(2);
        }
    })
    .expect("PASSIVE_LEVEL");
    let (i, s) = (interrupt.clone(), in_section.clone());
    let driver = ps_create_system_thread_named("driver", move || {
        for _ in 0..6 {
            let section = || {
                s.store(true, Ordering::SeqCst);
                ke_stall_execution_processor(1);
                s.store(false, Ordering::SeqCst);
            };
            if synchronized {
                ke_synchronize_execution(&i, section);
            } else {
                section();
            }
        }
    })
    .expect("PASSIVE_LEVEL");
    ke_wait_for_single_object(&device, None);
    ke_wait_for_single_object(&driver, None);
    ke_delay_execution_thread(Interval::relative_ms(1));
    match Arc::try_unwrap(interrupt) {
        Ok(interrupt) => io_disconnect_interrupt(interrupt),
        Err(_) => unreachable!("both threads ended"),
    }
    overlaps.load(Ordering::SeqCst)
}

#[test]
fn ke_synchronize_execution_excludes_the_isr_on_every_processor() {
    for processors in [1, 2, 4] {
        Machine::sim()
            .processors(processors)
            .explore(0..150, || assert_eq!(critical_sections(true), 0))
            .assert_ok();
    }
    // Control: without it, some seed puts the ISR inside the section.
    let unsynchronized =
        Machine::sim().processors(2).explore(0..150, || assert_eq!(critical_sections(false), 0));
    let run = unsynchronized.failure.expect("an overlap under some seed");
    let replay = Machine::sim().processors(2).seed(run.seed).run(|| critical_sections(false));
    assert!(replay.value() > 0, "the failing seed replays the overlap");
}

#[test]
fn shared_line_isrs_run_in_connection_order_until_one_claims() {
    let run = Machine::sim().processors(1).run(|| {
        let log = Log::default();
        let shared = |name: &'static str| InterruptConfig { share_vector: true, ..config(name) };
        let (l1, l2) = (log.clone(), log.clone());
        let first = io_connect_interrupt(shared("first"), move || {
            l1.push("first: not mine");
            false
        })
        .expect("shared");
        let second = io_connect_interrupt(shared("second"), move || {
            l2.push("second: mine");
            true
        })
        .expect("shared");
        request_interrupt(IRQ);
        ke_delay_execution_thread(Interval::relative_ms(1));
        io_disconnect_interrupt(first);
        io_disconnect_interrupt(second);
        log.lines()
    });
    assert_eq!(run.value_ref(), &["first: not mine", "second: mine"]);
    let lines = run.trace.to_string();
    assert!(lines.contains("cpu0 irq7 claimed"), "{lines}");
}

#[test]
fn connection_errors_are_statuses() {
    let run = Machine::sim().run(|| {
        let first = io_connect_interrupt(config("a"), || true).expect("free");
        let conflict = io_connect_interrupt(config("b"), || true).err();
        let shared_on_exclusive =
            io_connect_interrupt(InterruptConfig { share_vector: true, ..config("c") }, || true)
                .err();
        let bad_vector =
            io_connect_interrupt(InterruptConfig { vector: 0x99, ..config("d") }, || true).err();
        let clock = io_connect_interrupt(InterruptConfig::for_irq(0), || true).err();
        let not_device = io_connect_interrupt(
            InterruptConfig { irql: DISPATCH_LEVEL, ..InterruptConfig::for_irq(5) },
            || true,
        )
        .err();
        let no_processor = io_connect_interrupt(
            InterruptConfig { affinity: 0b100, ..InterruptConfig::for_irq(5) },
            || true,
        )
        .err();
        io_disconnect_interrupt(first);
        let after_disconnect =
            io_connect_interrupt(config("e"), || true).map(io_disconnect_interrupt).err();
        [
            conflict,
            shared_on_exclusive,
            bad_vector,
            clock,
            not_device,
            no_processor,
            after_disconnect,
        ]
    });
    let p = Some(STATUS_INVALID_PARAMETER);
    assert_eq!(run.value(), [p, p, p, p, p, p, None]);
}

#[test]
fn requests_nobody_claims_are_traced_as_unclaimed() {
    let run = Machine::sim().processors(1).run(|| {
        request_interrupt(9); // nothing connected
        let i = io_connect_interrupt(InterruptConfig::for_irq(9), || false).expect("free");
        request_interrupt(9);
        ke_delay_execution_thread(Interval::relative_ms(1));
        io_disconnect_interrupt(i);
    });
    assert!(run.is_ok());
    let text = run.trace.to_string();
    assert_eq!(text.matches("irq9 unclaimed").count(), 2, "{text}");
    assert!(text.contains("cpu0 irq9 not claimed"));
}

#[test]
fn an_isr_that_returns_at_another_irql_is_0xc4_0x111() {
    let run = Machine::sim().run(|| {
        let _i = io_connect_interrupt(config("broken"), || {
            ke_raise_irql(HIGH_LEVEL);
            true
        });
        request_interrupt(IRQ);
        ke_delay_execution_thread(Interval::relative_ms(1));
    });
    let check = bug_check_of(&run);
    assert_eq!(
        (check.code, check.params[0], check.params[2], check.params[3]),
        (0xC4, 0x111, 20, 31)
    );
}

#[test]
fn a_level_sensitive_line_is_delivered_until_the_device_releases_it() {
    let run = Machine::sim().processors(2).run(|| {
        let calls = Arc::new(AtomicU32::new(0));
        let c = calls.clone();
        let level = InterruptConfig { mode: InterruptMode::LevelSensitive, ..config("level") };
        let i = io_connect_interrupt(level, move || {
            if c.fetch_add(1, Ordering::SeqCst) + 1 == 3 {
                set_interrupt_line(IRQ, false); // the ISR quietens the device
            }
            true
        })
        .expect("free");
        set_interrupt_line(IRQ, true);
        ke_delay_execution_thread(Interval::relative_ms(1));
        io_disconnect_interrupt(i);
        calls.load(Ordering::SeqCst)
    });
    assert_eq!(run.value(), 3);
}

#[test]
fn a_hardware_event_on_the_clock_interrupts_at_its_virtual_time() {
    let run = Machine::sim().processors(2).run(|| {
        let at = Arc::new(AtomicU64::new(0));
        let done = Event::new(EventType::NotificationEvent, false);
        let (a, d) = (at.clone(), done.clone());
        let dpc = Dpc::new(move |_, _, _| {
            ke_set_event(&d, 0, false);
        });
        let i = io_connect_interrupt(config("timed"), move || {
            a.store(ke_query_interrupt_time(), Ordering::SeqCst);
            ke_insert_queue_dpc(&dpc, 0, 0);
            true
        })
        .expect("free");
        interrupt_after(IRQ, Interval::relative_ms(5));
        ke_wait_for_single_object(&done, None);
        io_disconnect_interrupt(i);
        at.load(Ordering::SeqCst)
    });
    assert_eq!(run.value(), 50_000);
}
