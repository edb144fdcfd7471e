//! The driver-facing surface: every kernel call a ported driver makes, under
//! the book's name in snake_case (`KeAcquireSpinLock` →
//! `ke_acquire_spin_lock`), plus the types they take. Drivers import this
//! module and nothing else of the crate.

pub use crate::hal::{
    interrupt_after, irql_for_irq, request_interrupt, set_interrupt_line, vector_for_irq,
};
pub use crate::ke::{
    APC_LEVEL, CLOCK_LEVEL, DISPATCH_LEVEL, Dpc, Event, EventType, HIGH_LEVEL, IPI_LEVEL,
    Interrupt, InterruptConfig, InterruptMode, Interval, Irql, KSpinLock, MAXIMUM_WAIT_OBJECTS,
    PASSIVE_LEVEL, POWER_LEVEL, PROFILE_LEVEL, SpinLock, SpinLockGuard, Timer, TimerType, WaitType,
    Waitable,
};
pub use crate::ps::Thread;
pub use crate::status::*;

pub use crate::io::connect_interrupt as io_connect_interrupt;
pub use crate::io::disconnect_interrupt as io_disconnect_interrupt;
pub use crate::ke::acquire_spin_lock as ke_acquire_spin_lock;
pub use crate::ke::acquire_spin_lock_at_dpc_level as ke_acquire_spin_lock_at_dpc_level;
pub use crate::ke::cancel_timer as ke_cancel_timer;
pub use crate::ke::clear_event as ke_clear_event;
pub use crate::ke::delay_execution_thread as ke_delay_execution_thread;
pub use crate::ke::get_current_irql as ke_get_current_irql;
pub use crate::ke::get_current_processor_number as ke_get_current_processor_number;
pub use crate::ke::insert_queue_dpc as ke_insert_queue_dpc;
pub use crate::ke::lower_irql as ke_lower_irql;
pub use crate::ke::paged_code;
pub use crate::ke::query_interrupt_time as ke_query_interrupt_time;
pub use crate::ke::query_system_time as ke_query_system_time;
pub use crate::ke::query_tick_count as ke_query_tick_count;
pub use crate::ke::query_time_increment as ke_query_time_increment;
pub use crate::ke::raise_irql as ke_raise_irql;
pub use crate::ke::raise_irql_to_dpc_level as ke_raise_irql_to_dpc_level;
pub use crate::ke::read_state_event as ke_read_state_event;
pub use crate::ke::read_state_timer as ke_read_state_timer;
pub use crate::ke::release_spin_lock as ke_release_spin_lock;
pub use crate::ke::release_spin_lock_from_dpc_level as ke_release_spin_lock_from_dpc_level;
pub use crate::ke::remove_queue_dpc as ke_remove_queue_dpc;
pub use crate::ke::reset_event as ke_reset_event;
pub use crate::ke::set_event as ke_set_event;
pub use crate::ke::set_target_processor_dpc as ke_set_target_processor_dpc;
pub use crate::ke::set_timer as ke_set_timer;
pub use crate::ke::set_timer_ex as ke_set_timer_ex;
pub use crate::ke::stall_execution_processor as ke_stall_execution_processor;
pub use crate::ke::synchronize_execution as ke_synchronize_execution;
pub use crate::ke::wait_for_multiple_objects as ke_wait_for_multiple_objects;
pub use crate::ke::wait_for_single_object as ke_wait_for_single_object;
pub use crate::ps::create_system_thread as ps_create_system_thread;
pub use crate::ps::create_system_thread_named as ps_create_system_thread_named;
pub use crate::ps::terminate_system_thread as ps_terminate_system_thread;
pub use crate::zw::yield_execution as zw_yield_execution;
