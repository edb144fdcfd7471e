//! A tour of the machine: two processors, a spin lock, a DPC and a timer,
//! printed as the trace a seed produces. `cargo run --example engine_demo -- 7`
//! runs seed 7.

use std::sync::Arc;

use wdmsim::Machine;
use wdmsim::ddk::*;

fn main() {
    let seed = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    let run = Machine::sim().processors(2).seed(seed).run(|| {
        let total = Arc::new(SpinLock::named("total", 0u32));
        let t = total.clone();
        let dpc = Dpc::named("tick", move |_, _, _| *t.acquire_at_dpc_level() += 100);
        let timer = Timer::named("timer", TimerType::NotificationTimer);
        ke_set_timer(&timer, Interval::relative_ms(10), Some(&dpc));
        let c = total.clone();
        let worker = ps_create_system_thread_named("worker", move || {
            for _ in 0..2 {
                *c.acquire() += 1;
            }
        })
        .expect("PASSIVE_LEVEL");
        ke_wait_for_single_object(&worker, None);
        ke_wait_for_single_object(&timer, None);
        *total.acquire()
    });
    print!("{}", run.trace);
    match run.result {
        Ok(total) => println!("total = {total} after {} steps", run.steps),
        Err(failure) => println!("{failure}"),
    }
}
