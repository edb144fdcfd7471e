//! SetupDi interface enumeration, as Wdm1Test's GetDeviceViaInterface uses
//! it (book l.3229–3305): a snapshot of the present devices with an enabled
//! interface of a class, enumerated by index, each giving its DevicePath.

use super::error::{
    ERROR_INSUFFICIENT_BUFFER, ERROR_INVALID_PARAMETER, ERROR_NO_MORE_ITEMS, set_last_error,
};
use crate::io::Guid;
use crate::io::device_path;
use crate::sim::system::with_system;

/// DIGCF_PRESENT: only devices present now.
pub const DIGCF_PRESENT: u32 = 0x0000_0002;
/// DIGCF_DEVICEINTERFACE (the book's DIGCF_INTERFACEDEVICE): enumerate by
/// interface class.
pub const DIGCF_DEVICEINTERFACE: u32 = 0x0000_0010;
pub const DIGCF_INTERFACEDEVICE: u32 = DIGCF_DEVICEINTERFACE;

/// An HDEVINFO: the devices a query found.
#[derive(Debug)]
pub struct DevInfo {
    guid: Guid,
    paths: Vec<String>,
}

/// SP_DEVICE_INTERFACE_DATA.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeviceInterfaceData {
    pub interface_class_guid: Option<Guid>,
    pub flags: u32,
    index: usize,
}

/// SetupDiGetClassDevs for an interface class. Only interface queries
/// (DIGCF_DEVICEINTERFACE) are modelled: without it, ERROR_INVALID_PARAMETER.
pub fn setup_di_get_class_devs(guid: &Guid, flags: u32) -> Option<DevInfo> {
    if flags & DIGCF_DEVICEINTERFACE == 0 {
        set_last_error(ERROR_INVALID_PARAMETER);
        return None;
    }
    let interfaces = with_system(|s| s.interfaces.lock().enabled(guid));
    crate::sim::yield_point();
    Some(DevInfo { guid: *guid, paths: interfaces.iter().map(|i| device_path(&i.link)).collect() })
}

/// SetupDiEnumDeviceInterfaces: the `index`th interface (from 0) of `guid`
/// in the set; ERROR_NO_MORE_ITEMS past the end.
pub fn setup_di_enum_device_interfaces(
    info: &DevInfo,
    guid: &Guid,
    index: u32,
    data: &mut DeviceInterfaceData,
) -> bool {
    if *guid != info.guid || index as usize >= info.paths.len() {
        set_last_error(ERROR_NO_MORE_ITEMS);
        return false;
    }
    *data = DeviceInterfaceData {
        interface_class_guid: Some(*guid),
        flags: 1, // SPINT_ACTIVE
        index: index as usize,
    };
    true
}

/// SetupDiGetDeviceInterfaceDetail: the DevicePath of an enumerated
/// interface. `required_size` gets the size of the detail structure (its
/// cbSize field plus the NUL-terminated ANSI path); a `detail_size` below it
/// is ERROR_INSUFFICIENT_BUFFER, the first of the book's two calls.
pub fn setup_di_get_device_interface_detail(
    info: &DevInfo,
    data: &DeviceInterfaceData,
    detail: Option<&mut String>,
    detail_size: u32,
    required_size: &mut u32,
) -> bool {
    let Some(path) = info.paths.get(data.index) else {
        set_last_error(ERROR_INVALID_PARAMETER);
        return false;
    };
    let needed = 4 + path.len() as u32 + 1;
    *required_size = needed;
    match detail {
        Some(out) if detail_size >= needed => {
            out.clear();
            out.push_str(path);
            true
        }
        _ => {
            set_last_error(ERROR_INSUFFICIENT_BUFFER);
            false
        }
    }
}

/// SetupDiDestroyDeviceInfoList.
pub fn setup_di_destroy_device_info_list(info: DevInfo) -> bool {
    drop(info);
    true
}
