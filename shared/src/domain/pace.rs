//! Pace to metronome beats: the running cadence (steps per minute) that goes with a pace.
//!
//! Source: van Oeveren BT, de Ruiter CJ, Beek PJ, van Dieën JH. "Optimal stride frequencies in
//! running at different speeds." PLOS ONE 12(10): e0184273 (2017). Self-selected stride
//! frequency averaged 77, 79 and 80 strides/min at 2.4, 2.6 and 2.9 m/s: 154, 158 and 160
//! steps/min. Between those speeds the cadence is interpolated; beyond them it follows the
//! least-squares line through the three points (5.79 strides/min per m/s).
//!
//! With a height, the cadence is scaled by dynamic similarity (Alexander & Jayes 1983, J. Zool.
//! 201: 135-152): at dynamically similar speeds step frequency goes as sqrt(g / leg length), so a
//! runner of height h at speed v steps like the reference runner at v * sqrt(h_ref / h), times
//! sqrt(h_ref / h). The reference height, 170 cm, is an assumption (the study reports none used here).

use crate::error::Error;

/// (speed in m/s, steps per minute) from van Oeveren et al. 2017.
pub const PUBLISHED: [(f64, f64); 3] = [(2.4, 154.0), (2.6, 158.0), (2.9, 160.0)];
const REFERENCE_HEIGHT_CM: f64 = 170.0;
const METERS_PER_MILE: f64 = 1609.344;
/// Faster than 1:40 per km (36 km/h) no one runs; slower than an hour per km is not running.
const FASTEST_SECONDS_PER_KM: f64 = 100.0;
const SLOWEST_SECONDS_PER_KM: f64 = 3600.0;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    Km,
    Mile,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cadence {
    pub pace_seconds_per_km: f64,
    pub speed_kmh: f64,
    pub bpm: u32,
}

fn invalid(message: &str) -> Error {
    Error::bad_request("invalid_pace", message.to_string())
}

/// `m:ss` (or `mm:ss`) per unit, as runners write it.
pub fn parse_pace(text: &str) -> Result<u32, Error> {
    let (minutes, seconds) =
        text.trim().split_once(':').ok_or_else(|| invalid("pace must be minutes:seconds, like 5:30"))?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.chars().all(|c| c.is_ascii_digit());
    if !digits(minutes) || seconds.len() != 2 || !digits(seconds) {
        return Err(invalid("pace must be minutes:seconds, like 5:30"));
    }
    let (m, s): (u32, u32) = (minutes.parse().unwrap_or(0), seconds.parse().unwrap_or(0));
    if s >= 60 {
        return Err(invalid("seconds must be below 60"));
    }
    Ok(m * 60 + s)
}

/// Steps per minute at a speed (m/s) for the reference runner.
fn reference_cadence(speed: f64) -> f64 {
    let (first, last) = (PUBLISHED[0], PUBLISHED[PUBLISHED.len() - 1]);
    if speed <= first.0 {
        return first.1 + slope() * (speed - first.0);
    }
    if speed >= last.0 {
        return last.1 + slope() * (speed - last.0);
    }
    let segment = PUBLISHED.windows(2).find(|w| speed <= w[1].0).expect("speed lies between the published points");
    let (a, b) = (segment[0], segment[1]);
    a.1 + (b.1 - a.1) * (speed - a.0) / (b.0 - a.0)
}

/// The least-squares slope through the published points, in steps per minute per m/s.
fn slope() -> f64 {
    let n = PUBLISHED.len() as f64;
    let mean_v = PUBLISHED.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_c = PUBLISHED.iter().map(|p| p.1).sum::<f64>() / n;
    let sxy: f64 = PUBLISHED.iter().map(|p| (p.0 - mean_v) * (p.1 - mean_c)).sum();
    let sxx: f64 = PUBLISHED.iter().map(|p| (p.0 - mean_v).powi(2)).sum();
    sxy / sxx
}

pub fn cadence(pace_seconds: u32, unit: Unit, height_cm: Option<f64>) -> Result<Cadence, Error> {
    let per_km = match unit {
        Unit::Km => pace_seconds as f64,
        Unit::Mile => pace_seconds as f64 * 1000.0 / METERS_PER_MILE,
    };
    if !(FASTEST_SECONDS_PER_KM..=SLOWEST_SECONDS_PER_KM).contains(&per_km) {
        return Err(Error::bad_request("pace_out_of_range", "pace must be between 1:40 and 60:00 per km"));
    }
    let speed = 1000.0 / per_km;
    let bpm = match height_cm {
        None => reference_cadence(speed),
        Some(h) if (100.0..=250.0).contains(&h) => {
            let scale = (REFERENCE_HEIGHT_CM / h).sqrt();
            reference_cadence(speed * scale) * scale
        }
        Some(_) => return Err(Error::bad_request("invalid_height", "height_cm must be between 100 and 250")),
    };
    Ok(Cadence {
        pace_seconds_per_km: (per_km * 10.0).round() / 10.0,
        speed_kmh: (speed * 36.0).round() / 10.0,
        bpm: bpm.round() as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_speed(speed: f64) -> u32 {
        cadence((1000.0 / speed).round() as u32, Unit::Km, None).unwrap().bpm
    }

    #[test]
    fn the_published_speeds_give_the_published_cadences() {
        for (speed, steps) in PUBLISHED {
            assert_eq!(reference_cadence(speed), steps);
            // A whole-second pace is within 1 s of the published speed: within a beat.
            assert!((at_speed(speed) as f64 - steps).abs() <= 1.0, "{speed} m/s");
        }
    }

    #[test]
    fn the_extension_follows_the_published_trend() {
        assert!((slope() - 11.58).abs() < 0.01, "5.79 strides/min = 11.58 steps/min per m/s");
        assert!(at_speed(2.0) < 154 && at_speed(4.0) > 160);
        let paces: Vec<u32> = (180..=600).step_by(30).map(|p| cadence(p, Unit::Km, None).unwrap().bpm).collect();
        assert!(paces.windows(2).all(|w| w[0] >= w[1]), "slower paces, fewer steps: {paces:?}");
    }

    #[test]
    fn a_five_thirty_km_is_about_162_steps() {
        let c = cadence(parse_pace("5:30").unwrap(), Unit::Km, None).unwrap();
        assert_eq!((c.pace_seconds_per_km, c.speed_kmh, c.bpm), (330.0, 10.9, 162));
    }

    #[test]
    fn miles_convert_to_kilometres() {
        let per_mile = cadence(parse_pace("8:51").unwrap(), Unit::Mile, None).unwrap();
        assert_eq!(per_mile.pace_seconds_per_km, 329.9);
        assert_eq!(per_mile.bpm, 162);
    }

    #[test]
    fn taller_runners_step_less_often_at_the_same_pace() {
        let pace = parse_pace("5:30").unwrap();
        let tall = cadence(pace, Unit::Km, Some(190.0)).unwrap().bpm;
        let short = cadence(pace, Unit::Km, Some(155.0)).unwrap().bpm;
        assert!(tall < 162 && short > 162, "{tall} {short}");
        assert_eq!(cadence(pace, Unit::Km, Some(170.0)).unwrap().bpm, 162);
    }

    #[test]
    fn malformed_and_implausible_paces_are_refused() {
        for bad in ["abc", "", "5", "5:3", "5:300", "-5:30", "5:-3", "99:99", "5.5:00", ":30"] {
            assert_eq!(parse_pace(bad).unwrap_err().code(), "invalid_pace", "{bad}");
        }
        for out in ["0:00", "1:00", "61:00", "99:00"] {
            assert_eq!(
                cadence(parse_pace(out).unwrap(), Unit::Km, None).unwrap_err().code(),
                "pace_out_of_range",
                "{out}"
            );
        }
        assert_eq!(cadence(330, Unit::Km, Some(40.0)).unwrap_err().code(), "invalid_height");
    }
}
