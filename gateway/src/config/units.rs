//! Human-friendly durations (`"30s"`, `"250ms"`) and byte sizes (`"8MiB"`)
//! for the configuration file.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// A duration written as a number followed by a unit: `ms`, `s`, `m` or `h`
/// (`"500ms"`, `"30s"`, `"2m"`).
#[derive(Clone, Copy, Debug, Eq, PartialEq, Ord, PartialOrd)]
pub struct HumanDuration(pub Duration);

/// A size in bytes, written as a plain integer or a number followed by a unit:
/// `B`, `KiB`, `MiB`, `GiB` (powers of 1024) or `KB`, `MB`, `GB` (powers of 1000).
#[derive(Clone, Copy, Debug, Eq, PartialEq, Ord, PartialOrd)]
pub struct ByteSize(pub u64);

/// Why a duration or size did not parse.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum UnitError {
    /// The text is not a number followed by a known unit.
    #[error("`{0}` is not a duration: write a number and a unit, e.g. \"30s\" or \"250ms\"")]
    BadDuration(String),
    /// The text is not a size.
    #[error("`{0}` is not a size: write bytes or a number and a unit, e.g. \"8MiB\"")]
    BadSize(String),
    /// The value does not fit in 64 bits.
    #[error("`{0}` is too large")]
    TooLarge(String),
}

impl HumanDuration {
    /// The duration as a [`Duration`].
    pub fn get(self) -> Duration {
        self.0
    }

    fn from_secs(secs: u64) -> Self {
        Self(Duration::from_secs(secs))
    }
}

impl ByteSize {
    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }

    /// The size in bytes as a `usize`, saturating on 32-bit targets.
    pub fn as_usize(self) -> usize {
        usize::try_from(self.0).unwrap_or(usize::MAX)
    }

    /// `n` mebibytes.
    pub const fn mib(n: u64) -> Self {
        Self(n * 1024 * 1024)
    }
}

/// Splits `"123unit"` into the number and the unit, allowing spaces between.
fn split_number(text: &str) -> Option<(u64, &str)> {
    let text = text.trim();
    let digits_end = text
        .char_indices()
        .find(|(_, c)| !c.is_ascii_digit())
        .map_or(text.len(), |(i, _)| i);
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() {
        return None;
    }
    Some((digits.parse().ok()?, unit.trim()))
}

impl FromStr for HumanDuration {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || UnitError::BadDuration(text.to_owned());
        let (n, unit) = split_number(text).ok_or_else(bad)?;
        let millis_per_unit: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" | "min" => 60_000,
            "h" => 3_600_000,
            _ => return Err(bad()),
        };
        let millis = n
            .checked_mul(millis_per_unit)
            .ok_or_else(|| UnitError::TooLarge(text.to_owned()))?;
        Ok(Self(Duration::from_millis(millis)))
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.0.as_millis();
        if millis.is_multiple_of(3_600_000) && millis > 0 {
            write!(f, "{}h", millis / 3_600_000)
        } else if millis.is_multiple_of(60_000) && millis > 0 {
            write!(f, "{}m", millis / 60_000)
        } else if millis.is_multiple_of(1_000) {
            write!(f, "{}s", millis / 1_000)
        } else {
            write!(f, "{millis}ms")
        }
    }
}

impl FromStr for ByteSize {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || UnitError::BadSize(text.to_owned());
        let (n, unit) = split_number(text).ok_or_else(bad)?;
        let factor: u64 = match unit {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "KB" | "kB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            _ => return Err(bad()),
        };
        n.checked_mul(factor)
            .map(Self)
            .ok_or_else(|| UnitError::TooLarge(text.to_owned()))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        for (factor, unit) in [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")] {
            if n >= factor && n.is_multiple_of(factor) {
                return write!(f, "{}{unit}", n / factor);
            }
        }
        write!(f, "{n}B")
    }
}

impl Serialize for HumanDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = HumanDuration;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration such as \"30s\" or \"250ms\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Err(E::custom(format!(
                    "`{v}` has no unit: write \"{v}s\" or \"{v}ms\""
                )))
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }
}

impl Serialize for ByteSize {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ByteSize {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct SizeVisitor;
        impl Visitor<'_> for SizeVisitor {
            type Value = ByteSize;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a size in bytes or a string such as \"8MiB\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                v.parse().map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map(ByteSize)
                    .map_err(|_| E::custom("a size cannot be negative"))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(ByteSize(v))
            }
        }
        deserializer.deserialize_any(SizeVisitor)
    }
}

/// Default values used by the configuration model.
pub(crate) mod defaults {
    use super::{ByteSize, HumanDuration};

    pub(crate) fn secs(n: u64) -> HumanDuration {
        HumanDuration::from_secs(n)
    }

    pub(crate) fn mib(n: u64) -> ByteSize {
        ByteSize::mib(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(
            "250ms".parse(),
            Ok(HumanDuration(Duration::from_millis(250)))
        );
        assert_eq!("30s".parse(), Ok(HumanDuration(Duration::from_secs(30))));
        assert_eq!("2m".parse(), Ok(HumanDuration(Duration::from_secs(120))));
        assert_eq!("1h".parse(), Ok(HumanDuration(Duration::from_secs(3600))));
        assert_eq!(" 5 s ".parse(), Ok(HumanDuration(Duration::from_secs(5))));
    }

    #[test]
    fn durations_without_units_or_with_junk_are_refused() {
        for bad in [
            "",
            "30",
            "s",
            "-1s",
            "1.5s",
            "10 parsecs",
            "99999999999999999999s",
        ] {
            assert!(bad.parse::<HumanDuration>().is_err(), "{bad}");
        }
        assert!(matches!(
            "18446744073709551615h".parse::<HumanDuration>(),
            Err(UnitError::TooLarge(_))
        ));
    }

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!("8MiB".parse(), Ok(ByteSize(8 << 20)));
        assert_eq!("1GB".parse(), Ok(ByteSize(1_000_000_000)));
        assert_eq!("512".parse(), Ok(ByteSize(512)));
        assert_eq!("4 KiB".parse(), Ok(ByteSize(4096)));
        assert!("8 megs".parse::<ByteSize>().is_err());
        assert!("99999999999GiB".parse::<ByteSize>().is_err());
    }

    proptest! {
        #[test]
        fn duration_display_round_trips(millis in 0u64..10_000_000_000) {
            let d = HumanDuration(Duration::from_millis(millis));
            prop_assert_eq!(d.to_string().parse::<HumanDuration>(), Ok(d));
        }

        #[test]
        fn size_display_round_trips(bytes in any::<u64>()) {
            let s = ByteSize(bytes);
            prop_assert_eq!(s.to_string().parse::<ByteSize>(), Ok(s));
        }

        #[test]
        fn parsers_never_panic(text in ".{0,40}") {
            let _ = text.parse::<HumanDuration>();
            let _ = text.parse::<ByteSize>();
        }
    }
}
