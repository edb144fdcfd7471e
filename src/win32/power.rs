//! The Win32 power calls Wdm2Power makes (book l.6328–6356):
//! SetSystemPowerState, GetSystemPowerStatus, GetDevicePowerState, and the
//! WM_POWERBROADCAST messages a window receives.

use super::error::{ERROR_INVALID_FUNCTION, fail, set_last_error};
use super::handle::{Handle, lookup};
use crate::io::get_attached_device;
use crate::po::{self, DevicePowerState, PowerAction, PowerBroadcast, SystemPowerState};

/// SYSTEM_POWER_STATUS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemPowerStatus {
    /// 0 offline, 1 online, 255 unknown.
    pub ac_line_status: u8,
    /// Bit flags; 128 = no system battery.
    pub battery_flag: u8,
    /// 0–100, or 255 unknown.
    pub battery_life_percent: u8,
    /// Seconds, or u32::MAX unknown.
    pub battery_life_time: u32,
    pub battery_full_life_time: u32,
}

/// GetSystemPowerStatus: the simulated machine is a desktop on AC power
/// with no battery (the book's author's machine, l.6897).
pub fn get_system_power_status(status: &mut SystemPowerStatus) -> bool {
    *status = SystemPowerStatus {
        ac_line_status: 1,
        battery_flag: 128,
        battery_life_percent: 255,
        battery_life_time: u32::MAX,
        battery_full_life_time: u32::MAX,
    };
    true
}

/// SetSystemPowerState: suspends (S3, `suspend`) or hibernates (S4); the
/// call returns once the system has woken again, as on Windows. FALSE with
/// the refusing device's error if the suspend was vetoed.
pub fn set_system_power_state(suspend: bool, _force: bool) -> bool {
    let (state, action) = if suspend {
        (SystemPowerState::Sleeping3, PowerAction::Sleep)
    } else {
        (SystemPowerState::Hibernate, PowerAction::Hibernate)
    };
    if let Err(status) = po::set_system_power_state(state, action) {
        return fail(status);
    }
    match po::wake_system() {
        Ok(()) => true,
        Err(status) => fail(status),
    }
}

/// GetDevicePowerState: whether the device a handle is open on is on (D0),
/// as its stack last recorded with PoSetPowerState.
pub fn get_device_power_state(handle: Handle, on: &mut bool) -> bool {
    let file = match lookup(handle) {
        Ok(open) => open.file,
        Err(status) => return fail(status),
    };
    let mut device = Some(get_attached_device(file.device_object()));
    while let Some(d) = device {
        let state = po::device_power_state(&d);
        if state != DevicePowerState::Unspecified {
            *on = state == DevicePowerState::D0;
            return true;
        }
        device = d.lower_device();
    }
    // No driver of the stack records its power state: Windows cannot say.
    set_last_error(ERROR_INVALID_FUNCTION);
    false
}

/// The WM_POWERBROADCAST messages sent since the last call (wParam values,
/// oldest first).
pub fn take_power_broadcast_messages() -> Vec<PowerBroadcast> {
    po::take_power_broadcasts()
}
