//! Device interfaces and symbolic links: IoRegisterDeviceInterface,
//! IoSetDeviceInterfaceState, IoGetDeviceInterfaces, IoCreateSymbolicLink,
//! IoDeleteSymbolicLink (book l.3076–3127, l.3169–3217).
//!
//! A registration persists (NT keeps it in the registry under
//! DeviceClasses); enabling it creates the symbolic link that user mode
//! opens. Link names follow the book's trace (l.4460):
//! `\??\Root#UNKNOWN#0003#{c0cf0640-5f6e-11d2-b677-00c0dfe4c1f3}`, the
//! device's instance path with `\` turned into `#`. The Win32 DevicePath is
//! the same, lower-cased, under `\\?\` (l.3345).

use std::fmt;
use std::sync::{Arc, Weak};

use super::device::{DeviceInner, DeviceObject};
use crate::ke::irql::{self, PASSIVE_LEVEL};
use crate::sim::system::with_system;
use crate::status::{
    NtStatus, STATUS_INVALID_DEVICE_REQUEST, STATUS_OBJECT_NAME_EXISTS,
    STATUS_OBJECT_NAME_NOT_FOUND, STATUS_SUCCESS,
};

/// A GUID, printed as the registry prints it:
/// `{c0cf0640-5f6e-11d2-b677-00c0dfe4c1f3}`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Guid {
    pub data1: u32,
    pub data2: u16,
    pub data3: u16,
    pub data4: [u8; 8],
}

impl Guid {
    pub const fn new(data1: u32, data2: u16, data3: u16, data4: [u8; 8]) -> Guid {
        Guid { data1, data2, data3, data4 }
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.data4;
        write!(
            f,
            "{{{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}}}",
            self.data1, self.data2, self.data3, d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7]
        )
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[derive(Debug)]
struct Registration {
    guid: Guid,
    link: String,
    instance_id: String,
    pdo: Weak<DeviceInner>,
    enabled: bool,
}

/// Every interface registered on this machine, in registration order.
#[derive(Debug, Default)]
pub struct InterfaceRegistry {
    registrations: Vec<Registration>,
}

/// An enabled interface, as SetupDi sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EnabledInterface {
    pub instance_id: String,
    pub link: String,
}

impl Registration {
    /// Whether the PDO still exists: not deleted (a kept reference, such as
    /// an IRP body's, may outlive IoDeleteDevice).
    fn pdo_present(&self) -> bool {
        self.pdo.upgrade().is_some_and(|pdo| !DeviceObject(pdo).is_deleted())
    }
}

impl InterfaceRegistry {
    pub(crate) fn enabled(&self, guid: &Guid) -> Vec<EnabledInterface> {
        self.registrations
            .iter()
            .filter(|r| r.guid == *guid && r.enabled && r.pdo_present())
            .map(|r| EnabledInterface { instance_id: r.instance_id.clone(), link: r.link.clone() })
            .collect()
    }
}

/// The user-mode path (`\\?\root#unknown#0000#{…}`) of an interface link.
pub fn device_path(link: &str) -> String {
    format!("\\\\?\\{}", link.trim_start_matches("\\??\\").to_ascii_lowercase())
}

/// IoRegisterDeviceInterface: registers `guid` (with an optional reference
/// string) on the PnP device whose PDO is `pdo`, and returns the symbolic
/// link name. Registering again returns the same name. A device object that
/// is not a PnP PDO gets STATUS_INVALID_DEVICE_REQUEST.
pub fn register_device_interface(
    pdo: &DeviceObject,
    guid: &Guid,
    reference: Option<&str>,
) -> Result<String, NtStatus> {
    if !irql::check_max_irql("IoRegisterDeviceInterface", PASSIVE_LEVEL) {
        return Err(STATUS_INVALID_DEVICE_REQUEST);
    }
    let instance_id =
        with_system(|s| s.devices.lock().instance_id(pdo)).ok_or(STATUS_INVALID_DEVICE_REQUEST)?;
    let mut link = format!("\\??\\{}#{guid}", instance_id.replace('\\', "#"));
    if let Some(reference) = reference {
        link.push('\\');
        link.push_str(reference);
    }
    with_system(|s| {
        let mut registry = s.interfaces.lock();
        if let Some(existing) = registry.registrations.iter_mut().find(|r| r.link == link) {
            existing.pdo = Arc::downgrade(&pdo.0);
        } else {
            registry.registrations.push(Registration {
                guid: *guid,
                link: link.clone(),
                instance_id: instance_id.clone(),
                pdo: Arc::downgrade(&pdo.0),
                enabled: false,
            });
        }
    });
    crate::sim::yield_point();
    Ok(link)
}

/// IoSetDeviceInterfaceState: enables (creating the symbolic link to the
/// PDO) or disables an interface. Enabling an enabled one is
/// STATUS_OBJECT_NAME_EXISTS; an unknown name, or disabling a disabled one,
/// STATUS_OBJECT_NAME_NOT_FOUND.
pub fn set_device_interface_state(link: &str, enable: bool) -> NtStatus {
    if !irql::check_max_irql("IoSetDeviceInterfaceState", PASSIVE_LEVEL) {
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    let status = with_system(|s| {
        let mut registry = s.interfaces.lock();
        let Some(registration) =
            registry.registrations.iter_mut().find(|r| r.link.eq_ignore_ascii_case(link))
        else {
            return STATUS_OBJECT_NAME_NOT_FOUND;
        };
        match (enable, registration.enabled) {
            (true, true) => return STATUS_OBJECT_NAME_EXISTS,
            (false, false) => return STATUS_OBJECT_NAME_NOT_FOUND,
            _ => {}
        }
        let mut namespace = s.namespace.lock();
        if enable {
            let Some(target) =
                registration.pdo.upgrade().and_then(|p| DeviceObject(p).name().map(String::from))
            else {
                return STATUS_INVALID_DEVICE_REQUEST;
            };
            if let Err(status) = namespace.create_link(&registration.link, &target) {
                return status;
            }
        } else {
            let _ = namespace.delete_link(&registration.link);
        }
        registration.enabled = enable;
        STATUS_SUCCESS
    });
    crate::sim::yield_point();
    status
}

/// IoGetDeviceInterfaces: the enabled links of `guid`.
pub fn get_device_interfaces(guid: &Guid) -> Vec<String> {
    with_system(|s| s.interfaces.lock().enabled(guid)).into_iter().map(|i| i.link).collect()
}

/// Disables every interface of a PDO that is going away.
pub(crate) fn disable_all(pdo: &DeviceObject) {
    let links: Vec<String> = with_system(|s| {
        s.interfaces
            .lock()
            .registrations
            .iter()
            .filter(|r| r.enabled && std::ptr::eq(r.pdo.as_ptr(), Arc::as_ptr(&pdo.0)))
            .map(|r| r.link.clone())
            .collect()
    });
    for link in links {
        set_device_interface_state(&link, false);
    }
}

/// IoCreateSymbolicLink: `link` (e.g. `\??\Wdm1dev1`) names `target`.
/// STATUS_OBJECT_NAME_COLLISION if the link exists.
pub fn create_symbolic_link(link: &str, target: &str) -> NtStatus {
    if !irql::check_max_irql("IoCreateSymbolicLink", PASSIVE_LEVEL) {
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    let status = with_system(|s| s.namespace.lock().create_link(link, target))
        .err()
        .unwrap_or(STATUS_SUCCESS);
    crate::sim::yield_point();
    status
}

/// IoDeleteSymbolicLink. STATUS_OBJECT_NAME_NOT_FOUND if there is none.
pub fn delete_symbolic_link(link: &str) -> NtStatus {
    if !irql::check_max_irql("IoDeleteSymbolicLink", PASSIVE_LEVEL) {
        return STATUS_INVALID_DEVICE_REQUEST;
    }
    let status =
        with_system(|s| s.namespace.lock().delete_link(link)).err().unwrap_or(STATUS_SUCCESS);
    crate::sim::yield_point();
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guids_and_paths_print_as_windows_prints_them() {
        let wdm1 = Guid::new(
            0xC0CF_0640,
            0x5F6E,
            0x11D2,
            [0xB6, 0x77, 0x00, 0xC0, 0xDF, 0xE4, 0xC1, 0xF3],
        );
        assert_eq!(wdm1.to_string(), "{c0cf0640-5f6e-11d2-b677-00c0dfe4c1f3}");
        assert_eq!(
            device_path(&format!("\\??\\Root#UNKNOWN#0003#{wdm1}")),
            "\\\\?\\root#unknown#0003#{c0cf0640-5f6e-11d2-b677-00c0dfe4c1f3}"
        );
    }
}
