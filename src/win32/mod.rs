//! The Win32 user-mode API the book's test programs call: CreateFile,
//! ReadFile, WriteFile, SetFilePointer, DeviceIoControl, CloseHandle,
//! GetLastError, overlapped I/O, SetupDi interface enumeration, and the
//! power calls of Wdm2Power.
//!
//! A user program is a simulated thread like any other; a blocking call
//! blocks only that thread. Calls keep Win32's shape (BOOL results, the
//! last error, explicit lengths next to buffers) so the book's programs
//! port line for line, and bad input (a closed handle, a length beyond the
//! buffer) gets the error Windows gives.

mod error;
mod file;
mod handle;
mod io;
mod overlapped;
mod power;
mod rundown;
mod setup_di;
mod thread;

pub use crate::po::PowerBroadcast;
pub use error::*;
pub use file::{
    CREATE_ALWAYS, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, FILE_BEGIN, FILE_CURRENT, FILE_END,
    FILE_FLAG_OVERLAPPED, FILE_SHARE_READ, FILE_SHARE_WRITE, GENERIC_READ, GENERIC_WRITE,
    INVALID_SET_FILE_POINTER, OPEN_EXISTING, close_handle, create_file, set_file_pointer,
};
pub(crate) use file::{close_kernel_handle, open_nt};
pub(crate) use handle::HandleTable;
pub use handle::{Handle, INVALID_HANDLE_VALUE};
pub(crate) use io::kernel_call;
pub use io::{device_io_control, nt_device_io_control_file, read_file, write_file};
pub use overlapped::{
    Overlapped, WAIT_FAILED, WAIT_OBJECT_0, WAIT_TIMEOUT, block_on, cancel_io,
    device_io_control_overlapped, get_overlapped_result, read_file_overlapped, wait_for_overlapped,
    write_file_overlapped,
};
pub use power::{
    SystemPowerStatus, get_device_power_state, get_system_power_status, set_system_power_state,
    take_power_broadcast_messages,
};
pub(crate) use rundown::cancel_thread_io;
pub use rundown::exit_process;
pub use setup_di::{
    DIGCF_DEVICEINTERFACE, DIGCF_INTERFACEDEVICE, DIGCF_PRESENT, DevInfo, DeviceInterfaceData,
    setup_di_destroy_device_info_list, setup_di_enum_device_interfaces, setup_di_get_class_devs,
    setup_di_get_device_interface_detail,
};
pub use thread::{
    SystemTime, ThreadHandle, create_thread, file_time_to_system_time, get_system_time,
    get_tick_count, sleep, system_time_to_file_time, wait_for_thread,
};
