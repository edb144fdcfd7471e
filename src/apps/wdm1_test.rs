//! Wdm1Test (book Listing 5.7, l.3416–3753; GetDeviceViaInterface,
//! Listing 5.5, l.3229–3305): opens the first Wdm1 device through its
//! interface and runs fourteen numbered tests on one synchronous handle.
//! Wdm2Test runs the same tests (`run_tests`).

use super::Console;
use crate::drivers::wdm1::*;
use crate::io::Guid;
use crate::win32::*;

/// GetDeviceViaInterface (book l.3229–3305): the `instance`th device with an
/// enabled `guid` interface, opened; `None` (after saying why) if there is
/// none.
pub fn get_device_via_interface(
    console: &mut Console<'_>,
    guid: &Guid,
    instance: u32,
) -> Option<Handle> {
    open_via_interface(console, guid, instance, FILE_ATTRIBUTE_NORMAL)
}

/// GetDeviceViaInterface01 (the DebugPrint Monitor's variant, book
/// l.9905): the same, opened for overlapped I/O.
pub fn get_device_via_interface01(
    console: &mut Console<'_>,
    guid: &Guid,
    instance: u32,
) -> Option<Handle> {
    open_via_interface(console, guid, instance, FILE_FLAG_OVERLAPPED)
}

fn open_via_interface(
    console: &mut Console<'_>,
    guid: &Guid,
    instance: u32,
    flags_and_attributes: u32,
) -> Option<Handle> {
    let Some(info) = setup_di_get_class_devs(guid, DIGCF_PRESENT | DIGCF_INTERFACEDEVICE) else {
        console.printf(format_args!("No HDEVINFO available for this GUID\n"));
        return None;
    };
    let mut ifdata = DeviceInterfaceData::default();
    if !setup_di_enum_device_interfaces(&info, guid, instance, &mut ifdata) {
        console
            .printf(format_args!("No SP_INTERFACE_DEVICE_DATA available for this GUID instance\n"));
        setup_di_destroy_device_info_list(info);
        return None;
    }
    // The first call learns the size, the second gets the path (l.3301).
    let mut required = 0;
    setup_di_get_device_interface_detail(&info, &ifdata, None, 0, &mut required);
    let mut path = String::new();
    if !setup_di_get_device_interface_detail(
        &info,
        &ifdata,
        Some(&mut path),
        required,
        &mut required,
    ) {
        setup_di_destroy_device_info_list(info);
        return None;
    }
    console.printf(format_args!("Symbolic link is {path}\n"));
    let handle = create_file(
        &path,
        GENERIC_READ | GENERIC_WRITE,
        FILE_SHARE_READ | FILE_SHARE_WRITE,
        OPEN_EXISTING,
        flags_and_attributes,
    );
    setup_di_destroy_device_info_list(info);
    (handle != INVALID_HANDLE_VALUE).then_some(handle)
}

/// The program's main: 0, or 1 if no Wdm1 device could be opened.
pub fn main(console: &mut Console<'_>) -> i32 {
    run_tests(console, &WDM1_GUID, "Wdm1", |_| {})
}

/// The fourteen tests on the first device with a `guid` interface (`name`
/// in the message when there is none), shared with Wdm2Test, which uses
/// the same driver interface. `after_test_7` runs with the handle still
/// open: Wdm2Test pauses there (spec 02 §5.1); Wdm1Test does nothing.
pub(crate) fn run_tests(
    console: &mut Console<'_>,
    guid: &Guid,
    name: &str,
    after_test_7: impl FnOnce(&mut Console<'_>),
) -> i32 {
    let mut test_no = 1;
    let mut next_test = |console: &mut Console<'_>| {
        console.printf(format_args!("\nTest {test_no}\n"));
        test_no += 1;
    };

    // 1: open the device.
    next_test(console);
    let Some(h) = get_device_via_interface(console, guid, 0) else {
        console.printf(format_args!("XXX Could not find open {name} device\n"));
        return 1;
    };
    console.printf(format_args!(" Opened OK\n"));

    // 2: read the first ULONG left in the buffer.
    next_test(console);
    let mut txd = 0;
    let mut rvalue = [0u8; 4];
    if !read_file(h, &mut rvalue, 4, &mut txd) {
        console.printf(format_args!("XXX Could not read value {}\n", get_last_error()));
    } else if txd == 4 {
        console.printf(format_args!(
            " Read successfully read stored value of 0x{:X}\n",
            u32::from_le_bytes(rvalue)
        ));
    } else {
        console.printf(format_args!("XXX Wrong number of bytes read: {txd}\n"));
    }

    // 3: write 0x12345678.
    next_test(console);
    let mut wvalue: u32 = 0x1234_5678;
    if !write_file(h, &wvalue.to_le_bytes(), 4, &mut txd) {
        console.printf(format_args!("XXX Could not write {wvalue:X}\n"));
    } else if txd == 4 {
        console.printf(format_args!(" Write 0x12345678 succeeded\n"));
    } else {
        console.printf(format_args!("XXX Wrong number of bytes written: {txd}\n"));
    }

    // 4: set the file pointer to 3.
    next_test(console);
    if set_file_pointer(h, 3, None, FILE_BEGIN) == INVALID_SET_FILE_POINTER {
        console.printf(format_args!("XXX SetFilePointer failed {}\n", get_last_error()));
    } else {
        console.printf(format_args!(" SetFilePointer worked\n"));
    }

    // 5: read one byte.
    next_test(console);
    let mut rvalue = [0u8; 4];
    if !read_file(h, &mut rvalue, 1, &mut txd) {
        console.printf(format_args!("XXX Could not read value\n"));
    } else if txd == 1 {
        console.printf(format_args!(
            " Read successfully read stored value of 0x{:X}\n",
            u32::from_le_bytes(rvalue)
        ));
    } else {
        console.printf(format_args!("XXX Wrong number of bytes read: {txd}\n"));
    }

    // 6: write at the new file pointer.
    next_test(console);
    if !write_file(h, &wvalue.to_le_bytes(), 4, &mut txd) {
        console.printf(format_args!("XXX Could not write {wvalue:X}\n"));
    } else if txd == 4 {
        console.printf(format_args!(" Write at new file pointer succeeded\n"));
    } else {
        console.printf(format_args!("XXX Wrong number of bytes written: {txd}\n"));
    }

    // 7: get the buffer size.
    next_test(console);
    let mut size_bytes = [0u8; 4];
    let mut returned = 0;
    if !device_io_control(h, IOCTL_WDM1_GET_BUFFER_SIZE, &[], 0, &mut size_bytes, 4, &mut returned)
    {
        console.printf(format_args!("XXX Could not get buffer size\n"));
    } else {
        console.printf(format_args!(
            " Buffer size is {} ({returned} bytes returned)\n",
            u32::from_le_bytes(size_bytes)
        ));
    }
    let buffer_size = u32::from_le_bytes(size_bytes);
    after_test_7(console);

    // 8: get the whole buffer. (The book allocates BufferSize+1 bytes and
    // reads a DWORD from it; at least 4 keeps that read in bounds.)
    next_test(console);
    let mut buffer = vec![0u8; (buffer_size as usize + 1).max(4)];
    let first_dword =
        |buffer: &[u8]| u32::from_le_bytes([buffer[0], buffer[1], buffer[2], buffer[3]]);
    if !device_io_control(h, IOCTL_WDM1_GET_BUFFER, &[], 0, &mut buffer, buffer_size, &mut returned)
    {
        console.printf(format_args!("XXX Could not get buffer\n"));
    } else {
        console.printf(format_args!(
            " First DWORD of buffer is {:08X} ({returned} bytes returned)\n",
            first_dword(&buffer)
        ));
    }

    // 9: ask for one byte too many.
    next_test(console);
    if !device_io_control(
        h,
        IOCTL_WDM1_GET_BUFFER,
        &[],
        0,
        &mut buffer,
        buffer_size + 1,
        &mut returned,
    ) {
        console.printf(format_args!(" Too big get buffer failed correctly {}\n", get_last_error()));
    } else {
        console.printf(format_args!("XXX Too big get buffer unexpectedly succeeded\n"));
    }

    // 10: zero the buffer and read it again.
    next_test(console);
    if !device_io_control(h, IOCTL_WDM1_ZERO_BUFFER, &[], 0, &mut [], 0, &mut returned) {
        console.printf(format_args!("XXX Zero buffer failed {}\n", get_last_error()));
    } else {
        console.printf(format_args!(" Zero buffer succeeded\n"));
    }
    if !device_io_control(h, IOCTL_WDM1_GET_BUFFER, &[], 0, &mut buffer, buffer_size, &mut returned)
    {
        console.printf(format_args!("XXX Could not get buffer\n"));
    } else {
        console.printf(format_args!(
            " First DWORD of buffer is {:08X} ({returned} bytes returned)\n",
            first_dword(&buffer)
        ));
    }

    // 11: remove the buffer; its size is then 0.
    next_test(console);
    if !device_io_control(h, IOCTL_WDM1_REMOVE_BUFFER, &[], 0, &mut [], 0, &mut returned) {
        console.printf(format_args!("XXX Remove buffer failed {}\n", get_last_error()));
    } else {
        console.printf(format_args!(" Remove buffer succeeded\n"));
    }
    if !device_io_control(h, IOCTL_WDM1_GET_BUFFER_SIZE, &[], 0, &mut size_bytes, 4, &mut returned)
    {
        console.printf(format_args!("XXX Could not get buffer size\n"));
    } else {
        console.printf(format_args!(
            " Buffer size is {} ({returned} bytes returned)\n",
            u32::from_le_bytes(size_bytes)
        ));
    }

    // 12: a code the driver does not know.
    next_test(console);
    if !device_io_control(h, IOCTL_WDM1_UNRECOGNISED, &[], 0, &mut [], 0, &mut returned) {
        console.printf(format_args!(" Unrecognised IOCTL correctly failed {}\n", get_last_error()));
    } else {
        console.printf(format_args!("XXX Unrecognised IOCTL unexpectedly succeeded\n"));
    }

    // 13: leave 0xabcdef01 at the start for the next run.
    next_test(console);
    if set_file_pointer(h, 0, None, FILE_BEGIN) == INVALID_SET_FILE_POINTER {
        console.printf(format_args!("XXX SetFilePointer failed {}\n", get_last_error()));
    } else {
        console.printf(format_args!(" SetFilePointer worked\n"));
    }
    wvalue = 0xabcd_ef01;
    if !write_file(h, &wvalue.to_le_bytes(), 4, &mut txd) {
        console.printf(format_args!("XXX Could not write {wvalue:X}\n"));
    } else if txd == 4 {
        console.printf(format_args!(" Write 0xabcdef01 succeeded\n"));
    } else {
        console.printf(format_args!("XXX Wrong number of bytes written: {txd}\n"));
    }

    // 14: close the device.
    next_test(console);
    if !close_handle(h) {
        console.printf(format_args!("XXX CloseHandle failed {}\n", get_last_error()));
    } else {
        console.printf(format_args!(" CloseHandle worked\n"));
    }

    console.printf(format_args!("\nPress enter please"));
    console.gets();
    0
}
