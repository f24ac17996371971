//! APPEND's `date-time`: `"dd-Mon-yyyy hh:mm:ss +zzzz"`.

use super::cursor::{Cursor, Fail, PResult, bad};
use crate::datetime::{MONTHS, days_from_civil, days_in_month};
use crate::types::DateTime;

/// Exactly `n` decimal digits.
fn digits(c: &mut Cursor<'_>, n: usize, what: &str) -> PResult<u32> {
    let mut v = 0u32;
    for _ in 0..n {
        match c.peek() {
            Some(d) if d.is_ascii_digit() => {
                v = v * 10 + u32::from(d - b'0');
                c.eat(d);
            }
            None => return Err(Fail::Incomplete),
            Some(_) => return bad(format!("Invalid date-time: expected digits for the {what}")),
        }
    }
    Ok(v)
}

/// A quoted date-time (the DQUOTE is next).
pub(crate) fn date_time(c: &mut Cursor<'_>) -> PResult<DateTime> {
    c.expect(b'"', "date-time")?;
    let day = if c.eat(b' ') {
        digits(c, 1, "day")?
    } else {
        digits(c, 2, "day")?
    };
    c.expect(b'-', "'-' in date-time")?;
    let month_raw = c.take_while(|b| b.is_ascii_alphabetic());
    let month = MONTHS
        .iter()
        .position(|m| m.as_bytes().eq_ignore_ascii_case(month_raw))
        .ok_or_else(|| Fail::Bad("Invalid month in date-time".into()))?;
    let month = u32::try_from(month + 1).unwrap_or(1);
    c.expect(b'-', "'-' in date-time")?;
    let year = i64::from(digits(c, 4, "year")?);
    c.expect(b' ', "space before the time in date-time")?;
    let hour = digits(c, 2, "hour")?;
    c.expect(b':', "':' in date-time")?;
    let minute = digits(c, 2, "minute")?;
    c.expect(b':', "':' in date-time")?;
    let second = digits(c, 2, "second")?;
    c.expect(b' ', "space before the zone in date-time")?;
    let negative = match c.peek() {
        Some(b'+') => false,
        Some(b'-') => true,
        None => return Err(Fail::Incomplete),
        Some(_) => return bad("Invalid date-time: expected '+' or '-' before the zone"),
    };
    c.eat(if negative { b'-' } else { b'+' });
    let zone = digits(c, 4, "zone")?;
    c.expect(b'"', "'\"' after date-time")?;
    if day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 || second > 60 {
        return bad("Invalid date-time: value out of range");
    }
    let (zh, zm) = (zone / 100, zone % 100);
    if zm > 59 {
        return bad("Invalid date-time: bad zone");
    }
    let mut offset_minutes = i32::try_from(zh * 60 + zm).unwrap_or(0);
    if negative {
        offset_minutes = -offset_minutes;
    }
    let local = days_from_civil(year, month, day) * 86_400
        + i64::from(hour) * 3600
        + i64::from(minute) * 60
        + i64::from(second);
    Ok(DateTime {
        unix: local - i64::from(offset_minutes) * 60,
        offset_minutes,
    })
}
