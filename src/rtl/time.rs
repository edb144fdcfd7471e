//! RtlTimeToTimeFields and RtlTimeFieldsToTime: a system time (100 ns
//! units since 1601-01-01 UTC) split into calendar fields and back. The
//! DebugPrint client stamps each event with them (book l.9369–9371).

/// TIME_FIELDS: eight 16-bit fields, Year first, Weekday last (0 = Sunday).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeFields {
    pub year: i16,
    pub month: i16,
    pub day: i16,
    pub hour: i16,
    pub minute: i16,
    pub second: i16,
    pub milliseconds: i16,
    pub weekday: i16,
}

const TICKS_PER_MS: u64 = 10_000;
const MS_PER_DAY: u64 = 86_400_000;
/// Days from 0000-03-01 (proleptic Gregorian) to 1601-01-01.
const DAYS_TO_1601: i64 = 584_694;

/// RtlTimeToTimeFields.
pub fn time_to_time_fields(time: u64) -> TimeFields {
    let total_ms = time / TICKS_PER_MS;
    let days = (total_ms / MS_PER_DAY) as i64;
    let ms_of_day = total_ms % MS_PER_DAY;
    // 1601-01-01 was a Monday.
    let weekday = ((days + 1) % 7) as i16;
    let (year, month, day) = civil_from_days(days + DAYS_TO_1601);
    TimeFields {
        year: year as i16,
        month: month as i16,
        day: day as i16,
        hour: (ms_of_day / 3_600_000) as i16,
        minute: (ms_of_day / 60_000 % 60) as i16,
        second: (ms_of_day / 1_000 % 60) as i16,
        milliseconds: (ms_of_day % 1_000) as i16,
        weekday,
    }
}

/// RtlTimeFieldsToTime: `None` for fields that name no time at or after
/// 1601-01-01 (the Weekday field is ignored, as in NT).
pub fn time_fields_to_time(fields: &TimeFields) -> Option<u64> {
    let valid = (1..=12).contains(&fields.month)
        && (1..=days_in_month(fields.year, fields.month)).contains(&fields.day)
        && (0..24).contains(&fields.hour)
        && (0..60).contains(&fields.minute)
        && (0..60).contains(&fields.second)
        && (0..1000).contains(&fields.milliseconds)
        && fields.year >= 1601;
    if !valid {
        return None;
    }
    let days = days_from_civil(i64::from(fields.year), fields.month as u32, fields.day as u32)
        - DAYS_TO_1601;
    let ms = days as u64 * MS_PER_DAY
        + fields.hour as u64 * 3_600_000
        + fields.minute as u64 * 60_000
        + fields.second as u64 * 1_000
        + fields.milliseconds as u64;
    Some(ms * TICKS_PER_MS)
}

fn is_leap(year: i16) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i16, month: i16) -> i16 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 0000-03-01 to (year, month, day): Howard Hinnant's
/// era-based algorithm with days counted from March 1st.
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let era = days.div_euclid(146_097);
    let doe = days - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_epoch_is_monday_1601_01_01() {
        let f = time_to_time_fields(0);
        assert_eq!((f.year, f.month, f.day, f.weekday), (1601, 1, 1, 1));
        assert_eq!(time_fields_to_time(&f), Some(0));
    }

    #[test]
    fn the_simulated_boot_is_thursday_2000_02_17() {
        let boot = crate::sim::clock::BOOT_SYSTEM_TIME + 13 * 3_600 * 10_000_000 + 5 * 10_000;
        let f = time_to_time_fields(boot);
        assert_eq!(
            f,
            TimeFields {
                year: 2000,
                month: 2,
                day: 17,
                hour: 13,
                minute: 0,
                second: 0,
                milliseconds: 5,
                weekday: 4
            }
        );
        assert_eq!(time_fields_to_time(&f), Some(boot));
    }

    #[test]
    fn leap_days_round_trip_and_bad_fields_are_refused() {
        let leap = TimeFields { year: 2000, month: 2, day: 29, ..TimeFields::default() };
        let time = time_fields_to_time(&leap).expect("2000 is a leap year");
        assert_eq!(time_to_time_fields(time).day, 29);
        let bad = TimeFields { year: 1900, month: 2, day: 29, ..TimeFields::default() };
        assert_eq!(time_fields_to_time(&bad), None);
        assert_eq!(time_fields_to_time(&TimeFields::default()), None);
    }
}
