//! One DebugPrint event on the wire (spec 04 §1.3, §2.12; book
//! l.9361–9392): a TIME_FIELDS record of the call's GMT time (16 bytes,
//! eight little-endian i16), the driver name with its NUL, the message
//! with its NUL, packed. A client writes one record per IRP_MJ_WRITE; the
//! driver stores it unparsed; a read returns (a prefix of) one record.

use crate::ddk::TimeFields;

/// Bytes of the TIME_FIELDS part.
pub const TIME_FIELDS_LEN: usize = 16;

/// The longest message a record carries: MsgLen, which counts the NUL,
/// is a 16-bit count (spec 04 §1.3).
pub const MESSAGE_MAX: usize = 65_534;

/// A record's parts, as the Monitor reads them back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventRecord {
    pub time: TimeFields,
    pub driver: Vec<u8>,
    pub message: Vec<u8>,
}

/// The bytes of a C string: up to its first NUL.
fn c_str(bytes: &[u8]) -> &[u8] {
    bytes.iter().position(|&b| b == 0).map_or(bytes, |end| &bytes[..end])
}

/// Encodes one record: `16 + (driver + 1) + (message + 1)` bytes. Each
/// string ends at its first NUL; the message is cut to [`MESSAGE_MAX`].
pub fn encode(time: &TimeFields, driver: &[u8], message: &[u8]) -> Vec<u8> {
    let driver = c_str(driver);
    let message = c_str(message);
    let message = &message[..message.len().min(MESSAGE_MAX)];
    let mut out = Vec::with_capacity(TIME_FIELDS_LEN + driver.len() + message.len() + 2);
    let fields = [
        time.year,
        time.month,
        time.day,
        time.hour,
        time.minute,
        time.second,
        time.milliseconds,
        time.weekday,
    ];
    for field in fields {
        out.extend_from_slice(&field.to_le_bytes());
    }
    out.extend_from_slice(driver);
    out.push(0);
    out.extend_from_slice(message);
    out.push(0);
    out
}

/// Decodes the bytes one read returned, looking at those bytes only: a
/// string without its NUL ends where the data ends (the Monitor's bounded
/// parse, spec 04 §3.3). `None` if the time fields are not all there.
pub fn decode(bytes: &[u8]) -> Option<EventRecord> {
    let (head, rest) = bytes.split_at_checked(TIME_FIELDS_LEN)?;
    let mut fields = head.chunks_exact(2).map(|c| i16::from_le_bytes([c[0], c[1]]));
    let mut next = || fields.next().unwrap_or_default();
    let time = TimeFields {
        year: next(),
        month: next(),
        day: next(),
        hour: next(),
        minute: next(),
        second: next(),
        milliseconds: next(),
        weekday: next(),
    };
    let driver = c_str(rest);
    let after = rest.get(driver.len() + 1..).unwrap_or_default();
    let message = c_str(after);
    Some(EventRecord { time, driver: driver.to_vec(), message: message.to_vec() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time() -> TimeFields {
        TimeFields {
            year: 2000,
            month: 2,
            day: 17,
            hour: 9,
            minute: 30,
            second: 5,
            milliseconds: 250,
            weekday: 4,
        }
    }

    #[test]
    fn a_record_is_time_fields_then_two_c_strings() {
        let bytes = encode(&time(), b"Wdm1", b"AddDevice");
        assert_eq!(bytes.len(), 16 + 5 + 10);
        assert_eq!(&bytes[..4], &[0xD0, 0x07, 0x02, 0x00]);
        assert_eq!(&bytes[16..], b"Wdm1\0AddDevice\0");
        let back = decode(&bytes).expect("a whole record");
        assert_eq!(
            back,
            EventRecord { time: time(), driver: b"Wdm1".to_vec(), message: b"AddDevice".to_vec() }
        );
    }

    #[test]
    fn strings_end_at_their_first_nul_and_long_messages_are_cut() {
        let bytes = encode(&time(), b"A\0B", b"x\0y");
        assert_eq!(&bytes[16..], b"A\0x\0");
        let long = vec![b'm'; MESSAGE_MAX + 10];
        assert_eq!(encode(&time(), b"D", &long).len(), 16 + 2 + MESSAGE_MAX + 1);
    }

    #[test]
    fn a_truncated_record_decodes_only_what_arrived() {
        let bytes = encode(&time(), b"Wdm1", b"Close");
        assert_eq!(decode(&bytes[..15]), None);
        let cut = decode(&bytes[..18]).expect("time fields present");
        assert_eq!((cut.driver.as_slice(), cut.message.as_slice()), (&b"Wd"[..], &b""[..]));
        let cut = decode(&bytes[..23]).expect("time fields present");
        assert_eq!((cut.driver.as_slice(), cut.message.as_slice()), (&b"Wdm1"[..], &b"Cl"[..]));
    }
}
