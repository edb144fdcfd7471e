//! A tour of the machine until the first driver port lands: two processors,
//! a spin lock shared by a thread, a timer's DPC and an interrupt's DPC, run
//! under one seed and printed as its trace. `cargo run --example engine_demo
//! -- 7` runs seed 7; every seed ends with the same total, through a
//! different interleaving.

use std::sync::Arc;

use wdmsim::Machine;
use wdmsim::ddk::*;

fn scenario() -> u32 {
    let total = Arc::new(SpinLock::named("total", 0u32));
    let done = Event::named("both DPCs ran", EventType::NotificationEvent, false);

    // A timer 10 ms out whose DPC adds 100.
    let (t, d) = (total.clone(), done.clone());
    let tick = Dpc::named("timer DPC", move |_, _, _| {
        let mut total = t.acquire_at_dpc_level();
        *total += 100;
        if *total >= 1100 {
            ke_set_event(&d, 0, false);
        }
    });
    let timer = Timer::named("10 ms", TimerType::NotificationTimer);
    ke_set_timer(&timer, Interval::relative_ms(10), Some(&tick));

    // A device on IRQ 7 whose ISR queues a DPC that adds 1000.
    let (t, d) = (total.clone(), done.clone());
    let dpc_for_isr = Dpc::named("DpcForIsr", move |_, _, _| {
        let mut total = t.acquire_at_dpc_level();
        *total += 1000;
        if *total >= 1100 {
            ke_set_event(&d, 0, false);
        }
    });
    let interrupt = io_connect_interrupt(
        InterruptConfig { name: Some("device"), ..InterruptConfig::for_irq(7) },
        move || {
            ke_insert_queue_dpc(&dpc_for_isr, 0, 0);
            true // the device interrupted: claim it
        },
    )
    .expect("IRQ 7 is free");
    interrupt_after(7, Interval::relative_ms(3));

    // A worker thread adds 1 twice under the lock.
    let c = total.clone();
    let worker = ps_create_system_thread_named("worker", move || {
        for _ in 0..2 {
            *c.acquire() += 1;
        }
    })
    .expect("created at PASSIVE_LEVEL");

    ke_wait_for_single_object(&worker, None);
    ke_wait_for_single_object(&done, None);
    io_disconnect_interrupt(interrupt);
    *total.acquire()
}

fn main() {
    let seed = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let machine = Machine::sim().processors(2).seed(seed);
    let run = machine.run(scenario);
    println!("{machine}");
    print!("{}", run.trace);
    match run.result {
        Ok(total) => println!("total = {total} after {} scheduling steps", run.steps),
        Err(failure) => println!("{failure}"),
    }
}
