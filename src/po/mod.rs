//! The power manager (book ch. 10, l.6360–7031; spec 02 §4): system and
//! device power states, how power IRPs travel (PoCallDriver, one at a time
//! per device, PoStartNextPowerIrp), what a driver may ask of it
//! (PoRequestPowerIrp, PoSetPowerState, idle detection), and the system's
//! sleep and wake, which walk the device tree.

mod call;
mod idle;
mod request;
mod states;
mod system;

pub(crate) use call::DevicePower;
pub use call::{call_driver, device_power_state, set_power_state, start_next_power_irp};
pub use idle::{IdleCounter, register_device_for_idle_detection, set_device_busy};
pub use request::{PowerCompletion, query_power_sequence, request_power_irp};
pub use states::{
    DevicePowerState, POWER_SYSTEM_MAXIMUM, PowerAction, PowerSequence, PowerState,
    SystemPowerState,
};
pub(crate) use system::SystemPower;
pub use system::{
    PowerBroadcast, set_system_power_state, system_power_state, take_power_broadcasts, wake_system,
};
