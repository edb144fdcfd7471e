//! Wdm1 and Wdm1Test end to end: every line the program prints in the run
//! after the driver loads and in the steady state (book Listing 5.6,
//! l.3343–3405), and the driver's trace in order (book Listing 7.1,
//! l.4448–4523), under many seeds on two processors.

use wdmsim::apps::{Console, wdm1_test};
use wdmsim::drivers::wdm1;
use wdmsim::{Machine, pnp};

/// Wdm1Test's output for one run, given what Test 2 finds in the buffer.
fn expected_output(test2: &str) -> String {
    format!(
        "
Test 1
Symbolic link is \\\\?\\root#unknown#0000#{{c0cf0640-5f6e-11d2-b677-00c0dfe4c1f3}}
 Opened OK

Test 2
{test2}

Test 3
 Write 0x12345678 succeeded

Test 4
 SetFilePointer worked

Test 5
 Read successfully read stored value of 0x12

Test 6
 Write at new file pointer succeeded

Test 7
 Buffer size is 7 (4 bytes returned)

Test 8
 First DWORD of buffer is 78345678 (7 bytes returned)

Test 9
 Too big get buffer failed correctly 87

Test 10
 Zero buffer succeeded
 First DWORD of buffer is 00000000 (7 bytes returned)

Test 11
 Remove buffer succeeded
 Buffer size is 0 (4 bytes returned)

Test 12
 Unrecognised IOCTL correctly failed 1

Test 13
 SetFilePointer worked
 Write 0xabcdef01 succeeded

Test 14
 CloseHandle worked

Press enter please"
    )
}

/// The driver's trace for one Wdm1Test run, given the first read's count.
fn expected_run_trace(first_read: usize) -> Vec<String> {
    let mut lines = vec![
        "Create File is ".to_string(),
        "Read 4 bytes from file pointer 0".into(),
        format!("Read: {first_read} bytes returned"),
        "Write 4 bytes from file pointer 0".into(),
        "Write: 4 bytes written".into(),
        "Read 1 bytes from file pointer 3".into(),
        "Read: 1 bytes returned".into(),
        "Write 4 bytes from file pointer 3".into(),
        "Write: 4 bytes written".into(),
    ];
    for (code, out, written) in [
        ("0022200C", 4, 4),
        ("00222010", 7, 7),
        ("00222010", 8, 0),
        ("00222004", 0, 0),
        ("00222010", 7, 7),
        ("00222008", 0, 0),
        ("0022200C", 4, 4),
        ("00222014", 0, 0),
    ] {
        lines
            .push(format!("DeviceIoControl: Control code {code} InputLength 0 OutputLength {out}"));
        lines.push(format!("DeviceIoControl: {written} bytes written"));
    }
    lines.extend([
        "Write 4 bytes from file pointer 0".into(),
        "Write: 4 bytes written".into(),
        "Close".into(),
    ]);
    lines
}

struct Outcome {
    outputs: Vec<String>,
    exit_codes: Vec<i32>,
    trace: Vec<(String, String)>,
    buffer_after: Vec<u8>,
}

/// Loads Wdm1, adds its device, runs Wdm1Test twice, removes the device.
fn boot_and_run(machine: Machine) -> Outcome {
    let run = machine.run(|| {
        pnp::install(wdm1::package());
        let device = pnp::add_root_device(wdm1::HARDWARE_ID).expect("start");
        let driver = pnp::function_driver(device).expect("Wdm1 drives the device");
        let mut outputs = Vec::new();
        let mut exit_codes = Vec::new();
        for _ in 0..2 {
            let mut out = Vec::new();
            let mut input: &[u8] = b"\n";
            exit_codes.push(wdm1_test::main(&mut Console::new(&mut out, &mut input)));
            outputs.push(String::from_utf8(out).expect("ASCII output"));
        }
        let buffer_after = driver.extension::<wdm1::Wdm1Globals>().buffer();
        pnp::remove_device(device).expect("removal");
        (outputs, exit_codes, buffer_after)
    });
    let trace =
        run.trace.prints().into_iter().map(|(d, t)| (d.to_string(), t.to_string())).collect();
    let (outputs, exit_codes, buffer_after) = run.value();
    Outcome { outputs, exit_codes, trace, buffer_after }
}

fn check(outcome: &Outcome) {
    assert_eq!(outcome.exit_codes, [0, 0]);
    // First run: the buffer is empty, so Test 2's read hits end of file:
    // ReadFile succeeds with 0 bytes (spec Part 3).
    assert_eq!(outcome.outputs[0], expected_output("XXX Wrong number of bytes read: 0"));
    // Second run: the book's output (its "0xABC0EF01" is an OCR slip).
    assert_eq!(
        outcome.outputs[1],
        expected_output(" Read successfully read stored value of 0xABCDEF01")
    );
    assert_eq!(
        outcome.buffer_after,
        [0x01, 0xEF, 0xCD, 0xAB],
        "0xABCDEF01 is left for the next run"
    );

    let mut expected: Vec<String> = vec![
        "RegistryPath is \\REGISTRY\\Machine\\System\\CurrentControlSet\\Services\\Wdm1".into(),
        "DriverEntry completed".into(),
        "AddDevice".into(),
    ];
    let fdo = &outcome.trace[3].1;
    assert!(fdo.starts_with("FDO is 80AAB"), "{fdo}");
    expected.push(fdo.clone());
    expected.push(
        "Symbolic Link Name is \\??\\Root#UNKNOWN#0000#{c0cf0640-5f6e-11d2-b677-00c0dfe4c1f3}"
            .into(),
    );
    // The PnP manager's start sequence (spec 02 §2.3.1; the book's
    // Listing 7.1 lost these lines, l.4461–4468).
    expected.extend(
        [
            "IRP_MN_QUERY_LEGACY_BUS_INFORMATION",
            "IRP_MN_FILTER_RESOURCE_REQUIREMENTS",
            "IRP_MN_START_DEVICE",
            "IRP_MN_QUERY_CAPABILITIES",
            "IRP_MN_QUERY_PNP_DEVICE_STATE",
            // DebugPrint's %I adds the relation type (spec 04 §1.4).
            "IRP_MN_QUERY_DEVICE_RELATIONS BusRelations",
        ]
        .map(|minor| format!("PnP IRP_MJ_PNP:{minor}")),
    );
    expected.extend(expected_run_trace(0));
    expected.extend(expected_run_trace(4));
    expected.extend([
        "PnP IRP_MJ_PNP:IRP_MN_QUERY_REMOVE_DEVICE".into(),
        "PnP IRP_MJ_PNP:IRP_MN_REMOVE_DEVICE".into(),
        "PnP RemoveDevice".into(),
        "Wdm1Unload".into(),
    ]);
    let drivers: Vec<&str> = outcome.trace.iter().map(|(d, _)| d.as_str()).collect();
    assert!(drivers.iter().all(|d| *d == "Wdm1"), "{drivers:?}");
    let lines: Vec<&String> = outcome.trace.iter().map(|(_, t)| t).collect();
    let expected: Vec<&String> = expected.iter().collect();
    assert_eq!(lines, expected);
}

#[test]
fn wdm1test_prints_the_books_output_and_the_driver_traces_the_books_lines() {
    check(&boot_and_run(Machine::sim().processors(2)));
}

#[test]
fn the_same_under_many_seeds_on_two_processors() {
    for seed in 0..60 {
        check(&boot_and_run(Machine::sim().processors(2).seed(seed)));
    }
    for seed in 0..20 {
        check(&boot_and_run(Machine::sim().processors(2).pct(3).seed(seed)));
    }
}

#[test]
fn and_on_real_threads() {
    let outcome = boot_and_run(Machine::threaded().processors(2));
    assert_eq!(
        outcome.outputs[1],
        expected_output(" Read successfully read stored value of 0xABCDEF01")
    );
    assert!(outcome.trace.is_empty(), "threaded mode keeps no trace");
}

#[test]
fn the_device_stack_is_fdo_over_pdo_and_goes_away_on_removal() {
    let run = Machine::sim().run(|| {
        pnp::install(wdm1::package());
        let node = pnp::add_root_device(wdm1::HARDWARE_ID).expect("start");
        let driver = pnp::function_driver(node).expect("Wdm1 drives the device");
        let pdo = pnp::pdo(node).expect("a PDO");
        let fdo = wdmsim::io::get_attached_device(&pdo);
        let shape = (
            pnp::instance_id(node),
            pdo.name().map(String::from),
            fdo.stack_size(),
            pdo.stack_size(),
            fdo.flags() & (wdmsim::io::DO_BUFFERED_IO | wdmsim::io::DO_POWER_PAGABLE),
            fdo.flags() & wdmsim::io::DO_DEVICE_INITIALIZING,
            fdo.lower_device() == Some(pdo.clone()),
            wdmsim::io::get_device_interfaces(&wdm1::WDM1_GUID).len(),
        );
        pnp::remove_device(node).expect("removal");
        let after = (
            fdo.is_deleted(),
            pdo.is_deleted(),
            driver.is_unloaded(),
            wdmsim::io::get_device_interfaces(&wdm1::WDM1_GUID).len(),
            pnp::remove_device(node),
        );
        (shape, after)
    });
    let (shape, after) = run.value();
    assert_eq!(
        shape,
        (
            Some("Root\\UNKNOWN\\0000".to_string()),
            Some("\\Device\\00000001".to_string()),
            2,
            1,
            wdmsim::io::DO_BUFFERED_IO | wdmsim::io::DO_POWER_PAGABLE,
            0,
            true,
            1
        )
    );
    assert_eq!(after, (true, true, true, 0, Err(pnp::PnpError::NoSuchDevNode)));
}

/// Wdm1 passes every power IRP down (Wdm1Power, book l.2107–2114): a
/// system suspend through SetSystemPowerState reaches it as QUERY_POWER and
/// SET_POWER, and the resume as SET_POWER(S0) with no query; the window
/// sees PBT_APMQUERYSUSPEND, PBT_APMSUSPEND, PBT_APMRESUMESUSPEND. Wdm1
/// records no device state, so GetDevicePowerState cannot answer
/// (ERROR_INVALID_FUNCTION).
#[test]
fn a_suspend_and_resume_pass_through_wdm1() {
    use wdmsim::win32::*;
    let run = Machine::sim().processors(2).run(|| {
        pnp::install(wdm1::package());
        pnp::add_root_device(wdm1::HARDWARE_ID).expect("start");
        let link = wdmsim::io::get_device_interfaces(&wdm1::WDM1_GUID).remove(0);
        let h = create_file(&wdmsim::io::device_path(&link), GENERIC_READ, 0, OPEN_EXISTING, 0);
        let mut status = SystemPowerStatus::default();
        assert!(get_system_power_status(&mut status));
        let suspended = set_system_power_state(true, false);
        let broadcasts = take_power_broadcast_messages();
        let mut on = true;
        set_last_error(0);
        let device_state = (get_device_power_state(h, &mut on), get_last_error());
        assert!(close_handle(h));
        (status.ac_line_status, suspended, broadcasts, device_state)
    });
    let power_lines: Vec<String> = run
        .trace
        .prints()
        .into_iter()
        .filter(|(_, text)| text.starts_with("Power"))
        .map(|(_, text)| text.to_string())
        .collect();
    assert_eq!(
        run.value(),
        (
            1,
            true,
            vec![
                PowerBroadcast::QuerySuspend,
                PowerBroadcast::Suspend,
                PowerBroadcast::ResumeSuspend
            ],
            (false, ERROR_INVALID_FUNCTION)
        )
    );
    assert_eq!(
        power_lines,
        [
            "Power IRP_MJ_POWER:IRP_MN_QUERY_POWER Query Power PowerSystemSleeping3",
            "Power IRP_MJ_POWER:IRP_MN_SET_POWER Set Power PowerSystemSleeping3",
            "Power IRP_MJ_POWER:IRP_MN_SET_POWER Set Power PowerSystemWorking"
        ]
    );
}
