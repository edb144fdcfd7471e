//! One integration binary; modules are named after the API they pin.

mod debugprint_client;
mod debugprint_driver;
mod io_cancel;
mod io_cleanup;
mod io_irp;
mod io_return_status;
mod ke_dpc;
mod ke_event;
mod ke_interrupt;
mod ke_irql;
mod ke_spin_lock;
mod ke_timer;
mod pnp;
mod po;
mod sim_determinism;
mod sim_explore;
mod support;
mod threaded;
mod tidy;
mod verifier_io;
mod verifier_pnp;
mod wdm1;
mod wdm2;
mod wdm2_model;
mod wdm2_sequences;
mod win32_bad_input;
