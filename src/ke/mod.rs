//! Kernel primitives with the book's names: IRQL, spin locks, dispatcher
//! objects (events, timers) and waits, DPCs, interrupt objects, time.
//!
//! Every call here works in both machine modes. In a simulation each one is
//! a scheduling point, where the scheduler may run another processor, a DPC
//! or an ISR before the call returns.

pub(crate) mod dispatcher;
pub(crate) mod dpc;
pub(crate) mod event;
pub(crate) mod interlocked;
pub(crate) mod interrupt;
pub(crate) mod irql;
pub(crate) mod spin_lock;
pub(crate) mod time;
pub(crate) mod timer;

pub use dispatcher::{
    DispatcherHeader, MAXIMUM_WAIT_OBJECTS, WaitType, Waitable, delay_execution_thread,
    wait_for_multiple_objects, wait_for_single_object,
};
pub use dpc::{
    Dpc, get_current_processor_number, insert_queue_dpc, remove_queue_dpc, set_target_processor_dpc,
};
pub use event::{Event, EventType, clear_event, read_state_event, reset_event, set_event};
pub use interlocked::{interlocked_decrement, interlocked_increment};
pub use interrupt::{Interrupt, InterruptConfig, InterruptMode, synchronize_execution};
pub use irql::{
    APC_LEVEL, CLOCK_LEVEL, DISPATCH_LEVEL, HIGH_LEVEL, IPI_LEVEL, Irql, PASSIVE_LEVEL,
    POWER_LEVEL, PROFILE_LEVEL, get_current_irql, lower_irql, paged_code, raise_irql,
    raise_irql_to_dpc_level,
};
pub use spin_lock::{
    KSpinLock, SpinLock, SpinLockGuard, acquire_spin_lock, acquire_spin_lock_at_dpc_level,
    release_spin_lock, release_spin_lock_from_dpc_level,
};
pub use time::{
    Interval, query_interrupt_time, query_system_time, query_tick_count, query_time_increment,
    stall_execution_processor,
};
pub use timer::{Timer, TimerType, cancel_timer, read_state_timer, set_timer, set_timer_ex};
