//! APPEND date-time parsing and INTERNALDATE formatting.

use crate::grammar::Cursor;
use crate::grammar::time::date_time;
use crate::{DateTime, format_date_time};

/// Parses a quoted date-time on its own.
fn parse(s: &str) -> Result<DateTime, crate::grammar::Fail> {
    date_time(&mut Cursor::new(s.as_bytes()))
}

#[test]
fn parses_dates() {
    let dt = |unix, offset_minutes| {
        Ok(DateTime {
            unix,
            offset_minutes,
        })
    };
    assert_eq!(
        parse("\"17-Jul-1996 02:44:25 -0700\""),
        dt(837_596_665, -420)
    );
    assert_eq!(
        parse("\" 7-Feb-1994 21:52:25 -0800\""),
        dt(760_686_745, -480)
    );
    assert_eq!(
        parse("\"07-feb-1994 21:52:25 -0800\""),
        dt(760_686_745, -480)
    );
    assert_eq!(
        parse("\"29-Feb-2024 00:00:00 +0530\""),
        dt(1_709_145_000, 330)
    );
    assert_eq!(parse("\"31-Dec-1969 23:59:59 +0000\""), dt(-1, 0));
    assert_eq!(parse("\"01-Jan-1970 00:00:00 -0001\""), dt(60, -1));
}

#[test]
fn rejects_bad_dates() {
    for s in [
        "\"29-Feb-2023 00:00:00 +0000\"",
        "\"31-Apr-2023 00:00:00 +0000\"",
        "\"00-Jan-2023 00:00:00 +0000\"",
        "\"01-Jan-2023 24:00:00 +0000\"",
        "\"01-Jan-2023 00:60:00 +0000\"",
        "\"01-Jan-2023 00:00:00 +0060\"",
        "\"01-Jax-2023 00:00:00 +0000\"",
        "\"1-Jan-2023 00:00:00 +0000\"",
        "\"01-Jan-23 00:00:00 +0000\"",
        "\"01-Jan-2023 00:00:00 0000\"",
        "\"01-Jan-2023 00:00:00 +000\"",
        "\"01-Jan-2023  0:00:00 +0000\"",
    ] {
        assert!(matches!(parse(s), Err(crate::grammar::Fail::Bad(_))), "{s}");
    }
}

#[test]
fn formats_dates() {
    let f = |unix, offset_minutes| {
        format_date_time(DateTime {
            unix,
            offset_minutes,
        })
    };
    assert_eq!(f(837_596_665, -420), "17-Jul-1996 02:44:25 -0700");
    assert_eq!(f(760_686_745, -480), "07-Feb-1994 21:52:25 -0800");
    assert_eq!(f(1_709_145_000, 330), "29-Feb-2024 00:00:00 +0530");
    assert_eq!(f(-1, 0), "31-Dec-1969 23:59:59 +0000");
    assert_eq!(f(0, -90), "31-Dec-1969 22:30:00 -0130");
}

#[test]
fn format_parse_round_trip() {
    let mut unix: i64 = -2_000_000_000;
    while unix < 4_000_000_000 {
        for offset in [-720, -90, 0, 59, 330, 840] {
            let d = DateTime {
                unix,
                offset_minutes: offset,
            };
            let text = format!("\"{}\"", format_date_time(d));
            assert_eq!(parse(&text), Ok(d), "{text}");
        }
        unix += 86_399 * 37 + 17;
    }
}
