//! System and device power states (book Tables 10.1 and 10.2, l.6383,
//! l.6401) and the other enumerations a power IRP carries.
//!
//! Larger values are less powered ("sleepier", l.6409); drivers compare
//! states by that order, so the enums derive `Ord` on their values.

use std::fmt;

/// SYSTEM_POWER_STATE.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum SystemPowerState {
    #[default]
    Unspecified = 0,
    /// S0.
    Working = 1,
    /// S1.
    Sleeping1 = 2,
    /// S2.
    Sleeping2 = 3,
    /// S3.
    Sleeping3 = 4,
    /// S4.
    Hibernate = 5,
    /// S5.
    Shutdown = 6,
}

/// PowerSystemMaximum: the size of DEVICE_CAPABILITIES.DeviceState.
pub const POWER_SYSTEM_MAXIMUM: usize = 7;

impl SystemPowerState {
    /// Every state in value order, Unspecified first.
    pub const ALL: [SystemPowerState; POWER_SYSTEM_MAXIMUM] = [
        SystemPowerState::Unspecified,
        SystemPowerState::Working,
        SystemPowerState::Sleeping1,
        SystemPowerState::Sleeping2,
        SystemPowerState::Sleeping3,
        SystemPowerState::Hibernate,
        SystemPowerState::Shutdown,
    ];

    /// The state's name in the S notation (`S0` … `S5`, `Sx` unspecified).
    pub fn short_name(self) -> &'static str {
        ["Sx", "S0", "S1", "S2", "S3", "S4", "S5"][self as usize]
    }

    /// A sleeping, hibernating or shutdown state (S1–S5).
    pub fn is_sleep(self) -> bool {
        self > SystemPowerState::Working
    }
}

impl fmt::Display for SystemPowerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}

/// DEVICE_POWER_STATE.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum DevicePowerState {
    #[default]
    Unspecified = 0,
    D0 = 1,
    D1 = 2,
    D2 = 3,
    D3 = 4,
}

impl DevicePowerState {
    /// The state's name (`D0` … `D3`, `Dx` unspecified).
    pub fn short_name(self) -> &'static str {
        ["Dx", "D0", "D1", "D2", "D3"][self as usize]
    }
}

impl fmt::Display for DevicePowerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.short_name())
    }
}

/// POWER_STATE with its POWER_STATE_TYPE: one system or one device state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PowerState {
    System(SystemPowerState),
    Device(DevicePowerState),
}

impl fmt::Display for PowerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PowerState::System(state) => state.fmt(f),
            PowerState::Device(state) => state.fmt(f),
        }
    }
}

/// POWER_ACTION: why the system changes state (Parameters.Power.ShutdownType,
/// book l.6395).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum PowerAction {
    #[default]
    None = 0,
    Reserved = 1,
    Sleep = 2,
    Hibernate = 3,
    Shutdown = 4,
    /// Reboot.
    ShutdownReset = 5,
    ShutdownOff = 6,
    WarmEject = 7,
}

/// POWER_SEQUENCE: how many times the device has entered D1, D2 and D3
/// since its PDO was created (book l.6991).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PowerSequence {
    pub sequence_d1: u32,
    pub sequence_d2: u32,
    pub sequence_d3: u32,
}
