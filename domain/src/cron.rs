//! Five-field cron expressions (minute hour day-of-month month day-of-week, in UTC) for scheduled
//! retention: `*`, numbers, ranges `a-b`, lists `a,b` and steps `*/n` or `a-b/n`. Day-of-week 0
//! and 7 are Sunday. As in classic cron, when both day fields are restricted a day matching either
//! one matches.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{expression}`: {problem}")]
pub struct CronError {
    pub expression: String,
    pub problem: String,
}

/// A parsed expression: for each field, which values match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    minutes: u64,
    hours: u32,
    days: u32,
    months: u16,
    weekdays: u8,
    days_restricted: bool,
    weekdays_restricted: bool,
    text: String,
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn field(text: &str, min: u32, max: u32, name: &str) -> Result<(u64, bool), String> {
    let mut bits = 0u64;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((r, s)) => (
                r,
                s.parse::<u32>()
                    .ok()
                    .filter(|s| *s > 0)
                    .ok_or_else(|| format!("{name}: `{s}` is not a step"))?,
            ),
            None => (item, 1),
        };
        let number = |t: &str| {
            t.parse::<u32>()
                .ok()
                .filter(|v| (min..=max).contains(v))
                .ok_or_else(|| format!("{name}: `{t}` is not between {min} and {max}"))
        };
        let (from, to) = match range {
            "*" => (min, max),
            r => match r.split_once('-') {
                Some((a, b)) => (number(a)?, number(b)?),
                None if step > 1 => (number(r)?, max),
                None => {
                    let v = number(r)?;
                    (v, v)
                }
            },
        };
        if from > to {
            return Err(format!("{name}: the range `{range}` runs backwards"));
        }
        let mut v = from;
        while v <= to {
            bits |= 1 << v;
            v += step;
        }
    }
    Ok((bits, text != "*"))
}

impl Schedule {
    pub fn parse(expression: &str) -> Result<Schedule, CronError> {
        let error = |problem: String| CronError {
            expression: expression.to_string(),
            problem,
        };
        let fields: Vec<&str> = expression.split_whitespace().collect();
        if fields.len() != 5 {
            return Err(error(format!(
                "5 fields expected (minute hour day month weekday), found {}",
                fields.len()
            )));
        }
        let (minutes, _) = field(fields[0], 0, 59, "minute").map_err(error)?;
        let (hours, _) = field(fields[1], 0, 23, "hour").map_err(error)?;
        let (days, days_restricted) = field(fields[2], 1, 31, "day of month").map_err(error)?;
        let (months, _) = field(fields[3], 1, 12, "month").map_err(error)?;
        let (mut weekdays, weekdays_restricted) =
            field(fields[4], 0, 7, "day of week").map_err(error)?;
        if weekdays & (1 << 7) != 0 {
            weekdays |= 1;
        }
        Ok(Schedule {
            minutes,
            hours: hours as u32,
            days: days as u32,
            months: months as u16,
            weekdays: (weekdays & 0x7f) as u8,
            days_restricted,
            weekdays_restricted,
            text: fields.join(" "),
        })
    }

    fn day_matches(&self, day_number: i64, day: u32) -> bool {
        // 1970-01-01 was a Thursday (4).
        let weekday = (day_number + 4).rem_euclid(7) as u32;
        let by_day = self.days & (1 << day) != 0;
        let by_weekday = self.weekdays & (1 << weekday) != 0;
        match (self.days_restricted, self.weekdays_restricted) {
            (true, true) => by_day || by_weekday,
            _ => by_day && by_weekday,
        }
    }

    /// The first matching minute strictly after `after_ms` (epoch ms), within about five years;
    /// `None` for an expression that never matches (the 31st of February).
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let mut minute = after_ms.div_euclid(60_000) + 1;
        let limit = minute + 5 * 366 * 24 * 60;
        while minute < limit {
            let day_number = minute.div_euclid(1_440);
            let (_, month, day) = crate::listing::civil_date(day_number);
            if self.months & (1 << month) == 0 || !self.day_matches(day_number, day) {
                minute = (day_number + 1) * 1_440;
                continue;
            }
            let hour = (minute.rem_euclid(1_440) / 60) as u32;
            if self.hours & (1 << hour) == 0 {
                minute = (minute / 60 + 1) * 60;
                continue;
            }
            let m = (minute.rem_euclid(60)) as u32;
            if self.minutes & (1 << m) != 0 {
                return Some(minute * 60_000);
            }
            minute += 1;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listing::format_utc;

    // 2026-11-23 08:30 UTC, a Monday.
    const NOW: i64 = 1_795_422_600_000;

    fn next(expr: &str, after: i64) -> String {
        format_utc(Schedule::parse(expr).unwrap().next_after(after).unwrap())
    }

    #[test]
    fn common_schedules_land_where_an_administrator_expects() {
        assert_eq!(format_utc(NOW), "2026-11-23 08:30 UTC");
        assert_eq!(next("0 2 * * *", NOW), "2026-11-24 02:00 UTC");
        assert_eq!(next("*/15 * * * *", NOW), "2026-11-23 08:45 UTC");
        assert_eq!(
            next("30 8 * * *", NOW),
            "2026-11-24 08:30 UTC",
            "strictly after"
        );
        assert_eq!(next("0 3 * * 0", NOW), "2026-11-29 03:00 UTC", "Sunday");
        assert_eq!(
            next("0 3 * * 7", NOW),
            "2026-11-29 03:00 UTC",
            "7 is Sunday too"
        );
        assert_eq!(next("0 0 1 * *", NOW), "2026-12-01 00:00 UTC");
        assert_eq!(
            next("0 0 29 2 *", NOW),
            "2028-02-29 00:00 UTC",
            "the next leap day"
        );
        assert_eq!(
            next("0 4 1-7 * 1-5", NOW),
            "2026-11-24 04:00 UTC",
            "either day field"
        );
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        for (expr, problem) in [
            ("0 2 * *", "5 fields expected"),
            ("60 * * * *", "minute: `60` is not between 0 and 59"),
            ("0 24 * * *", "hour"),
            ("0 0 0 * *", "day of month"),
            ("*/0 * * * *", "not a step"),
            ("0 5-2 * * *", "runs backwards"),
            ("a * * * *", "minute: `a`"),
        ] {
            let e = Schedule::parse(expr).unwrap_err();
            assert!(e.to_string().contains(problem), "{expr}: {e}");
        }
    }

    #[test]
    fn an_impossible_date_never_matches() {
        assert_eq!(Schedule::parse("0 0 31 2 *").unwrap().next_after(NOW), None);
    }
}
