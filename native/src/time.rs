//! Times as the Python reference reads them: CLF (`parse_clf_time`), ISO 8601 (CPython 3.11's C
//! `datetime.fromisoformat`), and epoch seconds (`datetime.fromtimestamp(x, UTC)`).
//!
//! A `Time` is what a timezone-aware `datetime` holds; every failure is the reference's `bad_time`.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Time {
    pub year: i32,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micro: u32,
    pub offset_us: i64, // UTC offset, strictly within +-24 h
}

const DAY_US: i64 = 86_400_000_000;

fn is_leap(y: i32) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Time {
    /// `datetime(...)` with `timezone(offset)`: None where either constructor raises.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        year: i32,
        month: u32,
        day: u32,
        hour: u32,
        minute: u32,
        second: u32,
        micro: u32,
        offset_us: i64,
    ) -> Option<Time> {
        if !(1..=9999).contains(&year) || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 59 || micro > 999_999 || offset_us.abs() >= DAY_US {
            return None;
        }
        Some(Time {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micro,
            offset_us,
        })
    }

    /// Days since 1970-01-01 of the date (proleptic Gregorian).
    fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
        let y = if m <= 2 { y - 1 } else { y } as i64;
        let era = if y >= 0 { y } else { y - 399 } / 400;
        let yoe = y - era * 400;
        let m = m as i64;
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    fn civil_from_days(z: i64) -> (i32, u32, u32) {
        let z = z + 719_468;
        let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let y = yoe + era * 400;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        ((if m <= 2 { y + 1 } else { y }) as i32, m, d)
    }

    /// Microseconds since the epoch of the instant.
    pub fn epoch_us(&self) -> i64 {
        let days = Self::days_from_civil(self.year, self.month, self.day);
        let local = ((days * 24 + self.hour as i64) * 60 + self.minute as i64) * 60 + self.second as i64;
        local * 1_000_000 + self.micro as i64 - self.offset_us
    }

    /// `datetime.timestamp()`: the microseconds divided by 10**6, correctly rounded.
    pub fn timestamp(&self) -> f64 {
        let us = self.epoch_us();
        // Exact below 2**53 microseconds (until year 2255); beyond, Python's int/int true division
        // still rounds once, so do the same with a split into whole seconds and the rest.
        if us.unsigned_abs() < (1u64 << 53) {
            us as f64 / 1e6
        } else {
            let secs = us.div_euclid(1_000_000);
            let rest = us.rem_euclid(1_000_000);
            if rest == 0 {
                secs as f64
            } else {
                secs as f64 + rest as f64 / 1e6
            }
        }
    }

    /// The UTC time of `us` microseconds since the epoch, if within years 1 to 9999.
    pub fn from_epoch_us(us: i64) -> Option<Time> {
        let days = us.div_euclid(DAY_US);
        let rest = us.rem_euclid(DAY_US);
        let (y, m, d) = Self::civil_from_days(days);
        let secs = rest / 1_000_000;
        Time::new(
            y,
            m,
            d,
            (secs / 3600) as u32,
            (secs / 60 % 60) as u32,
            (secs % 60) as u32,
            (rest % 1_000_000) as u32,
            0,
        )
    }
}

/// `datetime.fromtimestamp(seconds, UTC)` for an integer.
pub fn epoch_int(seconds: i128) -> Option<Time> {
    // time_t is 64-bit; past years 1..9999 the datetime constructor refuses anyway.
    if seconds.abs() > 1i128 << 40 {
        return None;
    }
    Time::from_epoch_us(seconds as i64 * 1_000_000)
}

/// `datetime.fromtimestamp(seconds, UTC)` for a float: microseconds rounded half to even.
pub fn epoch_float(seconds: f64) -> Option<Time> {
    if !seconds.is_finite() {
        return None;
    }
    let mut int_part = seconds.trunc();
    let mut frac = ((seconds - int_part) * 1e6).round_ties_even();
    if frac >= 1e6 {
        frac -= 1e6;
        int_part += 1.0;
    } else if frac < 0.0 {
        frac += 1e6;
        int_part -= 1.0;
    }
    if int_part.abs() > (1u64 << 40) as f64 {
        return None;
    }
    Time::from_epoch_us(int_part as i64 * 1_000_000 + frac as i64)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(b.iter().fold(0u32, |n, &c| n * 10 + (c - b'0') as u32))
}

/// `parse_clf_time`: `10/Oct/2000:13:55:36 -0700` (day of one or two digits, month in any case).
pub fn parse_clf(value: &str) -> Option<Time> {
    let b = value.as_bytes();
    // (\d{1,2})/([A-Za-z]{3})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d), matched whole.
    let slash = b.iter().position(|&c| c == b'/')?;
    if !(1..=2).contains(&slash) || b.len() != slash + 24 {
        return None;
    }
    let day = digits(&b[..slash])?;
    let r = &b[slash..];
    if r[0] != b'/' || r[4] != b'/' || r[9] != b':' || r[12] != b':' || r[15] != b':' || r[18] != b' ' {
        return None;
    }
    let mon = &r[1..4];
    if !mon.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let lower: Vec<u8> = mon.iter().map(u8::to_ascii_lowercase).collect();
    let month = MONTHS.iter().position(|m| m.as_bytes() == lower.as_slice())? as u32 + 1;
    let year = digits(&r[5..9])? as i32;
    let hour = digits(&r[10..12])?;
    let minute = digits(&r[13..15])?;
    let second = digits(&r[16..18])?;
    let sign = match r[19] {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let tzh = digits(&r[20..22])? as i64;
    let tzm = digits(&r[22..24])? as i64;
    let offset = sign * (tzh * 3600 + tzm * 60) * 1_000_000;
    Time::new(year, month, day, hour, minute, second, 0, offset)
}

// ---- CPython 3.11's C fromisoformat, on the UTF-8 bytes with a NUL after them ----------------

fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

fn is_digit(c: u8) -> bool {
    c.is_ascii_digit()
}

fn parse_digits(b: &[u8], p: &mut usize, var: &mut i64, n: usize) -> bool {
    for _ in 0..n {
        let c = at(b, *p);
        *p += 1;
        if !is_digit(c) {
            return false;
        }
        *var = *var * 10 + (c - b'0') as i64;
    }
    true
}

fn weekday(y: i32, m: u32, d: u32) -> i64 {
    // Monday == 0; 1970-01-01 was a Thursday (3).
    (Time::days_from_civil(y, m, d) + 3).rem_euclid(7)
}

fn iso_to_ymd(year: i64, week: i64, day: i64) -> Option<(i32, u32, u32)> {
    // Only reached with a four-digit year, so 0..=9999; year 0 fails in the datetime constructor.
    let y = year as i32;
    if week <= 0 || week >= 53 {
        let first = weekday(y.max(1), 1, 1);
        if !(week == 53 && (first == 3 || (first == 2 && is_leap(y)))) {
            return None;
        }
    }
    if day <= 0 || day >= 8 {
        return None;
    }
    let first_day = Time::days_from_civil(y, 1, 1);
    let first_weekday = (first_day + 3).rem_euclid(7);
    let mut week1_monday = first_day - first_weekday;
    if first_weekday > 3 {
        week1_monday += 7;
    }
    let (yy, m, d) = Time::civil_from_days(week1_monday + (week - 1) * 7 + day - 1);
    Some((yy, m, d))
}

fn parse_date(b: &[u8], len: usize) -> Option<(i32, u32, u32)> {
    let mut p = 0;
    let mut year = 0;
    if !parse_digits(b, &mut p, &mut year, 4) {
        return None;
    }
    let sep = at(b, p) == b'-';
    if sep {
        p += 1;
    }
    if at(b, p) == b'W' {
        p += 1;
        let mut week = 0;
        if !parse_digits(b, &mut p, &mut week, 2) {
            return None;
        }
        let mut day = 0;
        if p < len {
            if sep {
                let c = at(b, p);
                p += 1;
                if c != b'-' {
                    return None;
                }
            }
            if !parse_digits(b, &mut p, &mut day, 1) {
                return None;
            }
        } else {
            day = 1;
        }
        if year == 0 {
            // weekday() of year 0 is not what C computes, but datetime(0, ...) fails either way.
            return Some((0, 1, 1));
        }
        return iso_to_ymd(year, week, day);
    }
    let mut month = 0;
    if !parse_digits(b, &mut p, &mut month, 2) {
        return None;
    }
    if sep {
        let c = at(b, p);
        p += 1;
        if c != b'-' {
            return None;
        }
    }
    let mut day = 0;
    if !parse_digits(b, &mut p, &mut day, 2) {
        return None;
    }
    Some((year as i32, month as u32, day as u32))
}

/// C's parse_hh_mm_ss_ff over `b[start..end]`: Err for a parse failure, Ok(more) otherwise.
fn parse_hms(b: &[u8], start: usize, end: usize, out: &mut [i64; 4]) -> Result<bool, ()> {
    *out = [0; 4];
    let mut p = start;
    let mut has_sep = true;
    for (i, slot) in out.iter_mut().enumerate().take(3) {
        if !parse_digits(b, &mut p, slot, 2) {
            return Err(());
        }
        let c = at(b, p);
        p += 1;
        if i == 0 {
            has_sep = c == b':';
        }
        if p >= end {
            return Ok(c != 0);
        } else if has_sep && c == b':' {
            continue;
        } else if c == b'.' || c == b',' {
            break;
        } else if !has_sep {
            p -= 1;
        } else {
            return Err(());
        }
    }
    let remains = end.saturating_sub(p);
    let to_parse = remains.min(6);
    if !parse_digits(b, &mut p, &mut out[3], to_parse) {
        return Err(());
    }
    if to_parse < 6 {
        out[3] *= [100_000, 10_000, 1_000, 100, 10][to_parse - 1];
    }
    while is_digit(at(b, p)) {
        p += 1;
    }
    Ok(at(b, p) != 0)
}

/// `datetime.fromisoformat(value)` when it gives an aware datetime; None when it raises or is naive.
pub fn parse_iso(value: &str) -> Option<Time> {
    if value.chars().count() < 7 {
        return None;
    }
    let b = value.as_bytes();
    let len = b.len();
    let sep = find_separator(b, len)?;
    let (y, mo, d) = parse_date(b, sep)?;
    if len <= sep {
        return None; // a date alone is naive
    }
    let mut p = sep;
    p += match at(b, p) {
        c if c & 0x80 == 0 => 1,
        c if c & 0xf0 == 0xe0 => 3,
        c if c & 0xf0 == 0xf0 => 4,
        _ => 2,
    };
    let start = p;
    let end = len;
    if start > end {
        return None;
    }
    let mut tz = start;
    loop {
        let c = at(b, tz);
        if c == b'Z' || c == b'+' || c == b'-' {
            break;
        }
        tz += 1;
        if tz >= end {
            break;
        }
    }
    let mut t = [0i64; 4];
    let more = parse_hms(b, start, tz, &mut t).ok()?;
    if tz == end {
        let _ = more;
        return None; // no zone: naive (or garbage at the end)
    }
    let offset_us = if at(b, tz) == b'Z' {
        if at(b, tz + 1) != 0 {
            return None;
        }
        0
    } else {
        let sign = if at(b, tz) == b'-' { -1 } else { 1 };
        let mut z = [0i64; 4];
        if parse_hms(b, tz + 1, end, &mut z).ok()? {
            return None;
        }
        let seconds = z[0] * 3600 + z[1] * 60 + z[2];
        // CPython gives UTC whenever the whole seconds are zero, whatever the microseconds.
        if seconds == 0 {
            0
        } else {
            sign * (seconds * 1_000_000 + z[3])
        }
    };
    if tz > end {
        return None;
    }
    Time::new(y, mo, d, t[0] as u32, t[1] as u32, t[2] as u32, t[3] as u32, offset_us)
}

fn find_separator(b: &[u8], len: usize) -> Option<usize> {
    if len == 7 {
        return Some(7);
    }
    if at(b, 4) == b'-' {
        if at(b, 5) == b'W' {
            if len < 8 {
                return None;
            }
            if len > 8 && at(b, 8) == b'-' {
                if len == 9 {
                    return None;
                }
                if len > 10 && is_digit(at(b, 10)) {
                    return Some(8);
                }
                return Some(10);
            }
            return Some(8);
        }
        return Some(10);
    }
    if at(b, 4) == b'W' {
        let mut idx = 7;
        while idx < len && is_digit(at(b, idx)) {
            idx += 1;
        }
        if idx < 9 {
            return Some(idx);
        }
        return Some(if idx % 2 == 0 { 7 } else { 8 });
    }
    Some(8)
}

/// `parse_msec` and `parse_seconds`' shape: `\d{1,12}(\.\d{1,9})?`.
pub fn is_decimal(value: &str) -> bool {
    let b = value.as_bytes();
    let (int, frac) = match value.find('.') {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    (1..=12).contains(&int.len())
        && int.iter().all(u8::is_ascii_digit)
        && frac.is_none_or(|f| (1..=9).contains(&f.len()) && f.iter().all(u8::is_ascii_digit))
}
