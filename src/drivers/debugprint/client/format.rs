//! DebugSprintf: the `%` formatter behind DebugPrint and DebugPrint2 (book
//! l.4041–4049, Table 6.1; spec 04 §1.4).
//!
//! The C routine walks a varargs list; a wrong or missing argument could
//! crash the machine (book l.4043). The port takes a typed slice of
//! [`DpArg`] instead: a conversion whose argument is missing or of another
//! variant prints `<?>` (and consumes the argument if there is one), so a
//! trace line never panics.
//!
//! Output rules: at most `max - 1` bytes survive (the buffer is always
//! NUL-terminated, book l.4002); a NUL produced by a conversion (`%c` of 0)
//! ends the message, as it ends the C string; carriage returns and line
//! feeds of the format string are dropped (book l.4045).

use std::fmt;

use crate::ddk::{
    DevicePowerState, DeviceRelationType, IRP_MJ_MAXIMUM_FUNCTION, IRP_MJ_PNP, IRP_MJ_POWER,
    IRP_MJ_SYSTEM_CONTROL, IRP_MN_QUERY_DEVICE_RELATIONS, IRP_MN_QUERY_LEGACY_BUS_INFORMATION,
    IRP_MN_QUERY_POWER, IRP_MN_SET_POWER, Irp, Parameters, PowerState, SystemPowerState,
    function_name, io_get_current_irp_stack_location,
};
use crate::io::codes::major_name;

/// One argument of a DebugPrint call, typed as Table 6.1 types them.
#[derive(Clone, Copy, Debug)]
pub enum DpArg<'a> {
    /// `%c`: an ANSI character.
    Char(u8),
    /// `%C`: a wide character (printed as its low byte).
    WChar(u16),
    /// `%d`, `%i`, and the `*` width: an `int`.
    I32(i32),
    /// `%D`: an `__int64` in decimal.
    I64(i64),
    /// `%u`, `%x`: a `ULONG`.
    U32(u32),
    /// `%l`, `%L`: an `__int64` or LARGE_INTEGER in hexadecimal.
    Hex64(u64),
    /// `%s`: an ANSI string (ends at its first NUL, if any).
    Str(&'a [u8]),
    /// `%S`: a wide string (ends at its first NUL, if any).
    WStr(&'a [u16]),
    /// `%T`: a UNICODE_STRING (the port's strings are `&str`).
    Unicode(&'a str),
    /// `%I`: an IRP, printed by its current stack location's codes.
    Irp(&'a Irp),
}

/// What a conversion prints when its argument is missing or of the wrong
/// variant (port-defined, spec 04 §1.4).
pub const BAD_ARGUMENT: &[u8] = b"<?>";

/// DebugSprintf into `buffer`: the message, cut to `buffer.len() - 1`
/// bytes and NUL-terminated. Returns the message length (without the NUL).
pub fn format(buffer: &mut [u8], fmt: &[u8], args: &[DpArg<'_>]) -> usize {
    let capacity = buffer.len().saturating_sub(1);
    let mut out = Out { sink: SliceSink { buffer, len: 0 }, len: 0, capacity };
    // Stopping early is the normal end of a full buffer.
    let _ = format_to(&mut out, fmt, args);
    let len = out.len;
    if let Some(nul) = out.sink.buffer.get_mut(len) {
        *nul = 0;
    }
    len
}

/// A DebugPrint call formatted only when displayed (each byte as the
/// Latin-1 character of that code): what a trace line shows when nobody
/// keeps the message itself, so a run that records nothing formats nothing.
#[derive(Clone, Copy, Debug)]
pub(super) struct Formatted<'a> {
    pub max: usize,
    pub fmt: &'a [u8],
    pub args: &'a [DpArg<'a>],
}

impl fmt::Display for Formatted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sink = TextSink { f, result: Ok(()) };
        let mut out = Out { sink, len: 0, capacity: self.max.saturating_sub(1) };
        let _ = format_to(&mut out, self.fmt, self.args);
        out.sink.result
    }
}

/// Bytes shown as Latin-1 text (the Monitor's view of ANSI bytes).
#[derive(Clone, Copy, Debug)]
pub(super) struct Latin1<'a>(pub &'a [u8]);

impl fmt::Display for Latin1<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|&b| fmt::Write::write_char(f, char::from(b)))
    }
}

/// Where formatted bytes go.
trait Sink {
    fn put(&mut self, byte: u8);
}

struct SliceSink<'b> {
    buffer: &'b mut [u8],
    len: usize,
}

impl Sink for SliceSink<'_> {
    fn put(&mut self, byte: u8) {
        if let Some(slot) = self.buffer.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        }
    }
}

struct TextSink<'f, 'g> {
    f: &'f mut fmt::Formatter<'g>,
    result: fmt::Result,
}

impl Sink for TextSink<'_, '_> {
    fn put(&mut self, byte: u8) {
        if self.result.is_ok() {
            self.result = fmt::Write::write_char(self.f, char::from(byte));
        }
    }
}

/// Formatting has ended: the buffer is full or a NUL was produced.
struct Stop;

/// The output side of PHDput (bounded by `capacity` = max − 1).
struct Out<S: Sink> {
    sink: S,
    len: usize,
    capacity: usize,
}

impl<S: Sink> Out<S> {
    fn put(&mut self, byte: u8) -> Result<(), Stop> {
        if byte == 0 || self.len >= self.capacity {
            return Err(Stop);
        }
        self.sink.put(byte);
        self.len += 1;
        Ok(())
    }

    fn put_all(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        bytes.iter().try_for_each(|&b| self.put(b))
    }
}

/// The format string, read as a C string (it ends at a NUL).
struct Cursor<'f> {
    fmt: &'f [u8],
    at: usize,
}

impl Cursor<'_> {
    fn next(&mut self) -> Option<u8> {
        let ch = self.fmt.get(self.at).copied().filter(|&c| c != 0)?;
        self.at += 1;
        Some(ch)
    }
}

/// The walk of DebugSprintf over the format string.
fn format_to<S: Sink>(out: &mut Out<S>, fmt: &[u8], args: &[DpArg<'_>]) -> Result<(), Stop> {
    let mut cursor = Cursor { fmt, at: 0 };
    let mut args = args.iter();
    while let Some(ch) = cursor.next() {
        if ch != b'%' {
            put_literal(out, ch)?;
            continue;
        }
        // A `%` (or a width) at the very end ends formatting.
        let Some(mut ch) = cursor.next() else { break };
        let mut width = 0usize;
        let mut bad_width = false;
        if ch == b'*' {
            match args.next() {
                Some(DpArg::I32(size)) => width = usize::try_from(*size).unwrap_or(0),
                _ => bad_width = true,
            }
            let Some(next) = cursor.next() else { break };
            ch = next;
        } else if (b'1'..=b'9').contains(&ch) {
            // Digits 1–9 only (book l.4047): a 0 ends the width and is
            // taken as the type character.
            while (b'1'..=b'9').contains(&ch) {
                width = width.saturating_mul(10).saturating_add(usize::from(ch - b'0'));
                let Some(next) = cursor.next() else { return Ok(()) };
                ch = next;
            }
        }
        let takes_argument = matches!(ch, b'c' | b'C' | b'd' | b'i' | b'D' | b'u' | b'x')
            || matches!(ch, b'l' | b'L' | b's' | b'S' | b'T' | b'I');
        let argument = if takes_argument { args.next() } else { None };
        if bad_width {
            out.put_all(BAD_ARGUMENT)?;
            continue;
        }
        if !takes_argument {
            put_literal(out, ch)?;
            continue;
        }
        convert(out, ch, width, argument)?;
    }
    Ok(())
}

/// A plain character of the format string; CR and LF are dropped.
fn put_literal<S: Sink>(out: &mut Out<S>, ch: u8) -> Result<(), Stop> {
    if ch == b'\r' || ch == b'\n' {
        return Ok(());
    }
    out.put(ch)
}

/// One conversion of Table 6.1 with its argument.
fn convert<S: Sink>(
    out: &mut Out<S>,
    ch: u8,
    width: usize,
    argument: Option<&DpArg<'_>>,
) -> Result<(), Stop> {
    match (ch, argument) {
        (b'c', Some(DpArg::Char(c))) => out.put(*c),
        (b'C', Some(DpArg::WChar(w))) => out.put(*w as u8),
        (b'd' | b'i', Some(DpArg::I32(v))) => put_signed(out, i64::from(*v)),
        (b'D', Some(DpArg::I64(v))) => put_signed(out, *v),
        (b'u', Some(DpArg::U32(v))) => put_decimal(out, u64::from(*v)),
        (b'x', Some(DpArg::U32(v))) => put_hex(out, *v, width),
        (b'l' | b'L', Some(DpArg::Hex64(v))) => {
            let width = if width == 0 { 16 } else { width };
            if width > 8 {
                put_hex(out, (*v >> 32) as u32, width - 8)?;
            }
            put_hex(out, *v as u32, width)
        }
        (b's', Some(DpArg::Str(s))) => put_limited(out, s.iter().copied(), width),
        (b'S', Some(DpArg::WStr(s))) => put_limited(out, s.iter().map(|&w| w as u8), width),
        // Width is ignored for a UNICODE_STRING.
        (b'T', Some(DpArg::Unicode(s))) => put_limited(out, s.encode_utf16().map(|w| w as u8), 0),
        (b'I', Some(DpArg::Irp(irp))) => put_irp(out, irp),
        _ => out.put_all(BAD_ARGUMENT),
    }
}

fn put_signed<S: Sink>(out: &mut Out<S>, v: i64) -> Result<(), Stop> {
    if v < 0 {
        out.put(b'-')?;
    }
    put_decimal(out, v.unsigned_abs())
}

fn put_decimal<S: Sink>(out: &mut Out<S>, mut v: u64) -> Result<(), Stop> {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.put_all(&digits[start..])
}

/// PrintULONGhex: upper case, zero-padded; a width of 1–7 prints that many
/// low-order digits, anything else 8.
fn put_hex<S: Sink>(out: &mut Out<S>, v: u32, width: usize) -> Result<(), Stop> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let digits = if (1..8).contains(&width) { width } else { 8 };
    (0..digits).rev().try_for_each(|d| out.put(HEX[((v >> (4 * d)) & 0xF) as usize]))
}

/// A string up to its NUL; a width > 0 is the maximum number of characters.
fn put_limited<S: Sink>(
    out: &mut Out<S>,
    chars: impl Iterator<Item = u8>,
    width: usize,
) -> Result<(), Stop> {
    let limit = if width > 0 { width } else { usize::MAX };
    chars.take_while(|&c| c != 0).take(limit).try_for_each(|c| out.put(c))
}

/// IRP_MJ_SYSTEM_CONTROL's minor codes (WMI, book chapter 12).
const WMI_MINOR_NAMES: [&str; 10] = [
    "IRP_MN_QUERY_ALL_DATA",
    "IRP_MN_QUERY_SINGLE_INSTANCE",
    "IRP_MN_CHANGE_SINGLE_INSTANCE",
    "IRP_MN_CHANGE_SINGLE_ITEM",
    "IRP_MN_ENABLE_EVENTS",
    "IRP_MN_DISABLE_EVENTS",
    "IRP_MN_ENABLE_COLLECTION",
    "IRP_MN_DISABLE_COLLECTION",
    "IRP_MN_REGINFO",
    "IRP_MN_EXECUTE_METHOD",
];

fn relation_name(relation: DeviceRelationType) -> &'static str {
    match relation {
        DeviceRelationType::BusRelations => "BusRelations",
        DeviceRelationType::EjectionRelations => "EjectionRelations",
        DeviceRelationType::PowerRelations => "PowerRelations",
        DeviceRelationType::RemovalRelations => "RemovalRelations",
        DeviceRelationType::TargetDeviceRelation => "TargetDeviceRelation",
    }
}

fn power_state_name(state: PowerState) -> &'static str {
    match state {
        PowerState::System(system) => match system {
            SystemPowerState::Unspecified => "PowerSystemUnspecified",
            SystemPowerState::Working => "PowerSystemWorking",
            SystemPowerState::Sleeping1 => "PowerSystemSleeping1",
            SystemPowerState::Sleeping2 => "PowerSystemSleeping2",
            SystemPowerState::Sleeping3 => "PowerSystemSleeping3",
            SystemPowerState::Hibernate => "PowerSystemHibernate",
            SystemPowerState::Shutdown => "PowerSystemShutdown",
        },
        PowerState::Device(device) => match device {
            DevicePowerState::Unspecified => "PowerDeviceUnspecified",
            DevicePowerState::D0 => "PowerDeviceD0",
            DevicePowerState::D1 => "PowerDeviceD1",
            DevicePowerState::D2 => "PowerDeviceD2",
            DevicePowerState::D3 => "PowerDeviceD3",
        },
    }
}

/// `%I` (spec 04 §1.4): the current location's major function name; for
/// PnP, power and WMI also `:` and the minor name; for a PnP relations
/// query the relation type; for a power SET or QUERY the kind and the
/// state. An unknown PnP minor prints `:` and 8 hex digits, an unknown
/// major nothing.
fn put_irp<S: Sink>(out: &mut Out<S>, irp: &Irp) -> Result<(), Stop> {
    let location = io_get_current_irp_stack_location(irp);
    let (major, minor) = (location.major_function, location.minor_function);
    if major > IRP_MJ_MAXIMUM_FUNCTION {
        return Ok(());
    }
    match major {
        IRP_MJ_PNP if minor <= IRP_MN_QUERY_LEGACY_BUS_INFORMATION => {
            out.put_all(function_name(major, minor).as_bytes())?;
        }
        IRP_MJ_PNP => {
            out.put_all(major_name(major).as_bytes())?;
            out.put(b':')?;
            put_hex(out, u32::from(minor), 8)?;
        }
        IRP_MJ_POWER if minor <= IRP_MN_QUERY_POWER => {
            out.put_all(function_name(major, minor).as_bytes())?;
        }
        IRP_MJ_SYSTEM_CONTROL => {
            out.put_all(major_name(major).as_bytes())?;
            if let Some(name) = WMI_MINOR_NAMES.get(usize::from(minor)) {
                out.put(b':')?;
                out.put_all(name.as_bytes())?;
            }
        }
        _ => out.put_all(major_name(major).as_bytes())?,
    }
    match (major, minor, &location.parameters) {
        (
            IRP_MJ_PNP,
            IRP_MN_QUERY_DEVICE_RELATIONS,
            Parameters::QueryDeviceRelations { relation_type },
        ) => {
            out.put(b' ')?;
            out.put_all(relation_name(*relation_type).as_bytes())
        }
        (IRP_MJ_POWER, IRP_MN_SET_POWER | IRP_MN_QUERY_POWER, parameters) => {
            let kind: &[u8] =
                if minor == IRP_MN_SET_POWER { b" Set Power" } else { b" Query Power" };
            out.put_all(kind)?;
            if let Parameters::Power { state, .. } = parameters {
                out.put(b' ')?;
                out.put_all(power_state_name(*state).as_bytes())?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DebugPrint's 100-byte buffer.
    fn sprintf(fmt: &[u8], args: &[DpArg<'_>]) -> String {
        sprintf2(100, fmt, args)
    }

    fn sprintf2(max: usize, fmt: &[u8], args: &[DpArg<'_>]) -> String {
        let mut buffer = vec![0xAA; max];
        let len = format(&mut buffer, fmt, args);
        if max > 0 {
            assert_eq!(buffer[len], 0, "NUL-terminated");
        }
        let shown = Formatted { max, fmt, args }.to_string();
        let bytes = Latin1(&buffer[..len]).to_string();
        assert_eq!(shown, bytes, "lazy and buffered formatting agree");
        bytes
    }

    #[test]
    fn plain_text_is_copied_and_cr_lf_are_dropped() {
        assert_eq!(sprintf(b"DriverEntry completed", &[]), "DriverEntry completed");
        assert_eq!(sprintf(b"a\r\nb\nc\r", &[]), "abc");
        assert_eq!(sprintf(b"%\n%\rx", &[]), "x");
        assert_eq!(sprintf(b"", &[]), "");
    }

    #[test]
    fn the_format_ends_at_its_nul_or_at_a_trailing_percent() {
        assert_eq!(sprintf(b"ab\0cd", &[]), "ab");
        assert_eq!(sprintf(b"ab%", &[]), "ab");
        assert_eq!(sprintf(b"ab%\0d", &[DpArg::I32(1)]), "ab");
        assert_eq!(sprintf(b"ab%*", &[DpArg::I32(3)]), "ab");
        assert_eq!(sprintf(b"ab%12", &[]), "ab");
    }

    #[test]
    fn characters() {
        assert_eq!(sprintf(b"[%c]", &[DpArg::Char(b'Z')]), "[Z]");
        assert_eq!(sprintf(b"[%C]", &[DpArg::WChar(0x0141)]), "[A]", "the low byte");
        assert_eq!(sprintf(b"[%C]", &[DpArg::WChar(u16::from(b'w'))]), "[w]");
        // A NUL character ends the C string.
        assert_eq!(sprintf(b"NeedsMapping %c!", &[DpArg::Char(0)]), "NeedsMapping ");
        assert_eq!(sprintf(b"[%c]", &[DpArg::Char(0xE9)]), "[\u{e9}]");
    }

    #[test]
    fn decimals() {
        let d = |fmt: &[u8], v: i32| sprintf(fmt, &[DpArg::I32(v)]);
        assert_eq!(d(b"%d", 0), "0");
        assert_eq!(d(b"%d", 4), "4");
        assert_eq!(d(b"%i", -17), "-17");
        assert_eq!(d(b"%d", i32::MAX), "2147483647");
        assert_eq!(d(b"%d", i32::MIN), "-2147483648");
        assert_eq!(d(b"%5d", 42), "42", "no padding");
        assert_eq!(sprintf(b"%u", &[DpArg::U32(u32::MAX)]), "4294967295");
        assert_eq!(sprintf(b"%u", &[DpArg::U32(0)]), "0");
        assert_eq!(sprintf(b"%D", &[DpArg::I64(-5_000_000_000)]), "-5000000000");
        assert_eq!(sprintf(b"%D", &[DpArg::I64(i64::MIN)]), "-9223372036854775808");
        assert_eq!(sprintf(b"%D", &[DpArg::I64(i64::MAX)]), "9223372036854775807");
    }

    #[test]
    fn hex_is_upper_case_and_zero_padded_with_the_low_order_digit_rule() {
        let x = |fmt: &[u8], v: u32| sprintf(fmt, &[DpArg::U32(v)]);
        assert_eq!(x(b"%x", 0x80AA_B020), "80AAB020");
        assert_eq!(x(b"%x", 0x0022_200C), "0022200C");
        assert_eq!(x(b"%x", 0), "00000000");
        assert_eq!(x(b"%2x", 0x1234), "34");
        assert_eq!(x(b"%1x", 0xABC), "C");
        assert_eq!(x(b"%4x", 0x1234_5678), "5678");
        assert_eq!(x(b"%7x", 0xFEDC_BA98), "EDCBA98");
        assert_eq!(x(b"%8x", 0x12), "00000012");
        assert_eq!(x(b"%9x", 0x12), "00000012");
        assert_eq!(x(b"%99x", 0x12), "00000012");
        assert_eq!(sprintf(b"%*x", &[DpArg::I32(3), DpArg::U32(0xABCD)]), "BCD");
        assert_eq!(sprintf(b"%*x", &[DpArg::I32(0), DpArg::U32(0xABCD)]), "0000ABCD");
        assert_eq!(sprintf(b"%*x", &[DpArg::I32(-2), DpArg::U32(0xABCD)]), "0000ABCD");
        assert_eq!(x(b"%x%x", 0x378), "00000378<?>", "two conversions, one argument");
    }

    #[test]
    fn a_zero_in_a_width_is_the_type_character() {
        // `%10x`: width 1, then `0` as an unknown type (printed), then `x`.
        assert_eq!(sprintf(b"%10x", &[DpArg::U32(5)]), "0x");
        assert_eq!(sprintf(b"%0d", &[DpArg::I32(5)]), "0d");
    }

    #[test]
    fn sixty_four_bit_hex() {
        let v = 0x0123_4567_89AB_CDEF_u64;
        let l = |fmt: &[u8]| sprintf(fmt, &[DpArg::Hex64(v)]);
        assert_eq!(l(b"%l"), "0123456789ABCDEF");
        assert_eq!(l(b"%L"), "0123456789ABCDEF");
        assert_eq!(l(b"%9l"), "789ABCDEF", "one low-order high digit, then the low dword");
        assert_eq!(l(b"%12l"), "456789ABCDEF");
        assert_eq!(l(b"%16l"), "0123456789ABCDEF");
        assert_eq!(l(b"%19l"), "0123456789ABCDEF", "the high part caps at 8 digits");
        assert_eq!(l(b"%20l"), "0l", "width 2, then `0` as the type");
        assert_eq!(l(b"%8l"), "89ABCDEF", "only the low dword");
        assert_eq!(l(b"%3l"), "DEF");
        assert_eq!(sprintf(b"%*L", &[DpArg::I32(10), DpArg::Hex64(v)]), "6789ABCDEF");
    }

    #[test]
    fn strings_with_maximum_widths() {
        assert_eq!(sprintf(b"[%s]", &[DpArg::Str(b"abcdef")]), "[abcdef]");
        assert_eq!(sprintf(b"[%3s]", &[DpArg::Str(b"abcdef")]), "[abc]");
        assert_eq!(sprintf(b"[%9s]", &[DpArg::Str(b"abc")]), "[abc]", "no padding");
        assert_eq!(sprintf(b"[%s]", &[DpArg::Str(b"ab\0cd")]), "[ab]");
        assert_eq!(sprintf(b"[%*s]", &[DpArg::I32(2), DpArg::Str(b"abc")]), "[ab]");
        let wide: Vec<u16> = "wide\u{141}".encode_utf16().collect();
        assert_eq!(sprintf(b"[%S]", &[DpArg::WStr(&wide)]), "[wideA]");
        assert_eq!(sprintf(b"[%2S]", &[DpArg::WStr(&wide)]), "[wi]");
        assert_eq!(sprintf(b"[%S]", &[DpArg::WStr(&[0x61, 0, 0x62])]), "[a]");
        let path = r"\REGISTRY\Machine\System\CurrentControlSet\Services\Wdm1";
        assert_eq!(
            sprintf(b"RegistryPath is %T", &[DpArg::Unicode(path)]),
            format!("RegistryPath is {path}")
        );
        assert_eq!(sprintf(b"[%3T]", &[DpArg::Unicode("abcdef")]), "[abcdef]", "width ignored");
        assert_eq!(sprintf(b"[%T]", &[DpArg::Unicode("ab\0cd")]), "[ab]");
        assert_eq!(sprintf(b"[%T]", &[DpArg::Unicode("\u{e9}\u{141}")]), "[\u{e9}A]");
        assert_eq!(sprintf(b"Create File is %T", &[DpArg::Unicode("")]), "Create File is ");
    }

    #[test]
    fn unknown_types_print_themselves_and_take_no_argument() {
        assert_eq!(sprintf(b"100%% %d", &[DpArg::I32(7)]), "100% 7");
        assert_eq!(sprintf(b"%z%d", &[DpArg::I32(7)]), "z7");
        assert_eq!(sprintf(b"%3z", &[]), "z");
    }

    #[test]
    fn a_missing_or_mistyped_argument_prints_a_marker_and_is_consumed() {
        assert_eq!(sprintf(b"%d", &[]), "<?>");
        assert_eq!(sprintf(b"%d %d", &[DpArg::U32(1), DpArg::I32(2)]), "<?> 2");
        assert_eq!(sprintf(b"%x %s", &[DpArg::I32(1), DpArg::Str(b"ok")]), "<?> ok");
        assert_eq!(sprintf(b"%l", &[DpArg::I64(1)]), "<?>");
        assert_eq!(sprintf(b"%T", &[DpArg::Str(b"x")]), "<?>");
        assert_eq!(sprintf(b"%I", &[DpArg::U32(0)]), "<?>");
        assert_eq!(sprintf(b"%c%C", &[DpArg::WChar(1), DpArg::Char(1)]), "<?><?>");
        // A bad `*` width spoils its conversion, which still takes its own
        // argument.
        assert_eq!(sprintf(b"%*x|%d", &[DpArg::U32(3), DpArg::U32(9), DpArg::I32(4)]), "<?>|4");
        assert_eq!(sprintf(b"%*x", &[]), "<?>");
        // Extra arguments are ignored.
        assert_eq!(sprintf(b"done", &[DpArg::I32(1)]), "done");
    }

    #[test]
    fn output_is_cut_at_max_minus_one() {
        assert_eq!(sprintf2(6, b"abcdefgh", &[]), "abcde");
        assert_eq!(sprintf2(6, b"n=%d", &[DpArg::I32(123_456)]), "n=123");
        assert_eq!(sprintf2(5, b"%x", &[DpArg::U32(0xDEAD_BEEF)]), "DEAD");
        assert_eq!(sprintf2(4, b"%s", &[DpArg::Str(b"abcdef")]), "abc");
        assert_eq!(sprintf2(1, b"abc", &[]), "");
        assert_eq!(sprintf2(0, b"abc", &[]), "");
        let long = [b'x'; 300];
        assert_eq!(sprintf(&long, &[]).len(), 99);
        assert_eq!(sprintf2(1000, &long, &[]).len(), 300);
    }

    #[test]
    fn the_books_wdm1_lines() {
        let ioctl = sprintf(
            b"DeviceIoControl: Control code %x InputLength %d OutputLength %d",
            &[DpArg::U32(0x0022_2010), DpArg::I32(0), DpArg::I32(7)],
        );
        assert_eq!(ioctl, "DeviceIoControl: Control code 00222010 InputLength 0 OutputLength 7");
        let read = sprintf(b"Read %d bytes from file pointer %d", &[DpArg::I32(1), DpArg::I32(3)]);
        assert_eq!(read, "Read 1 bytes from file pointer 3");
        assert_eq!(sprintf(b"FDO is %x", &[DpArg::U32(0x80AA_B020)]), "FDO is 80AAB020");
    }
}
