//! DEVICE_CAPABILITIES, which IRP_MN_QUERY_CAPABILITIES fills: the bus
//! driver first, then function and filter drivers adjust it on the way up
//! (book l.5994–5996, l.6905–6976).

use crate::po::{DevicePowerState, POWER_SYSTEM_MAXIMUM, SystemPowerState};

/// DEVICE_CAPABILITIES (the fields drivers of the book read or write).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceCapabilities {
    pub device_d1: bool,
    pub device_d2: bool,
    pub lock_supported: bool,
    pub eject_supported: bool,
    pub removable: bool,
    pub unique_id: bool,
    pub silent_install: bool,
    pub raw_device_ok: bool,
    pub surprise_removal_ok: bool,
    pub wake_from_d0: bool,
    pub wake_from_d1: bool,
    pub wake_from_d2: bool,
    pub wake_from_d3: bool,
    pub address: u32,
    pub ui_number: u32,
    /// For each system state, the most powered device state allowed
    /// (index = SystemPowerState value; \[0\] is never used).
    pub device_state: [DevicePowerState; POWER_SYSTEM_MAXIMUM],
    /// The lowest system state the device can wake the system from.
    pub system_wake: SystemPowerState,
    /// The lowest device state the device can signal a wake from.
    pub device_wake: DevicePowerState,
    /// Time back to D0, in 100 µs units.
    pub d1_latency: u32,
    pub d2_latency: u32,
    pub d3_latency: u32,
}

impl DeviceCapabilities {
    /// DeviceState\[system\].
    pub fn device_state_for(&self, system: SystemPowerState) -> DevicePowerState {
        self.device_state[system as usize]
    }

    pub fn set_device_state_for(&mut self, system: SystemPowerState, device: DevicePowerState) {
        self.device_state[system as usize] = device;
    }
}
