//! Wdm2Power (book l.6328–6356; spec 02 §4.9): the book's power console.
//! The MFC dialog listens for WM_POWERBROADCAST and lists each event, has
//! Suspend and Hibernate buttons that call SetSystemPowerState, and a
//! one-second timer showing the AC/battery status (GetSystemPowerStatus)
//! and whether a device is powered (GetDevicePowerState). Here the dialog
//! is a console: the user's button presses and the time they let pass are
//! a script, and the status line is printed when it changes.

use super::Console;
use super::wdm1_test::get_device_via_interface;
use crate::drivers::wdm2::WDM2_GUID;
use crate::win32::*;

/// What the user does with the dialog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// The Suspend button: SetSystemPowerState(TRUE, FALSE).
    Suspend,
    /// The Hibernate button: SetSystemPowerState(FALSE, FALSE).
    Hibernate,
    /// Leave the dialog open this many seconds (the timer ticks each one).
    Wait(u32),
}

/// The WM_POWERBROADCAST wParam name, as the list box shows it.
fn broadcast_name(event: PowerBroadcast) -> &'static str {
    match event {
        PowerBroadcast::QuerySuspend => "PBT_APMQUERYSUSPEND",
        PowerBroadcast::QuerySuspendFailed => "PBT_APMQUERYSUSPENDFAILED",
        PowerBroadcast::Suspend => "PBT_APMSUSPEND",
        PowerBroadcast::ResumeSuspend => "PBT_APMRESUMESUSPEND",
    }
}

/// The timer's status line: AC line, battery, and the device's power.
fn status_line(device: Handle) -> String {
    let mut status = SystemPowerStatus::default();
    let ac = if !get_system_power_status(&mut status) {
        "unknown"
    } else if status.ac_line_status == 1 {
        "on line"
    } else {
        "off line"
    };
    let battery = if status.battery_flag & 128 != 0 { "no battery" } else { "battery" };
    let mut on = false;
    let power = match get_device_power_state(device, &mut on) {
        true if on => "on".to_string(),
        true => "off".to_string(),
        false => format!("unknown (error {})", get_last_error()),
    };
    format!("AC power {ac}, {battery}; Wdm2 device power {power}")
}

fn show_broadcasts(console: &mut Console<'_>) {
    for event in take_power_broadcast_messages() {
        console.printf(format_args!(
            "{:>6}s  WM_POWERBROADCAST {}\n",
            seconds(),
            broadcast_name(event)
        ));
    }
}

fn seconds() -> u32 {
    get_tick_count() / 1000
}

/// The program: 0, or 1 if no Wdm2 device could be opened.
pub fn main(console: &mut Console<'_>, actions: &[Action]) -> i32 {
    let Some(device) = get_device_via_interface(console, &WDM2_GUID, 0) else {
        return 1;
    };
    let mut shown = status_line(device);
    console.printf(format_args!("{:>6}s  {shown}\n", seconds()));
    for action in actions {
        match *action {
            Action::Suspend | Action::Hibernate => {
                let (suspend, name) = match action {
                    Action::Suspend => (true, "Suspend"),
                    _ => (false, "Hibernate"),
                };
                console.printf(format_args!("{:>6}s  {name} pressed\n", seconds()));
                let ok = set_system_power_state(suspend, false);
                show_broadcasts(console);
                if !ok {
                    console.printf(format_args!("        {name} failed {}\n", get_last_error()));
                }
            }
            Action::Wait(secs) => {
                for _ in 0..secs {
                    sleep(1000);
                    show_broadcasts(console);
                    let now = status_line(device);
                    if now != shown {
                        console.printf(format_args!("{:>6}s  {now}\n", seconds()));
                        shown = now;
                    }
                }
            }
        }
    }
    close_handle(device);
    0
}
