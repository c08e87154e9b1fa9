//! Exact decimal text: parsing the API's numbers (plain, integer or exponent notation) into
//! scaled `i128`s and printing scaled `i128`s back, without ever passing through `f64`.

use std::fmt::Write as _;

/// Why a text is not a decimal that fits the target.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    #[error("`{0}` is not a number")]
    Syntax(String),
    #[error("`{0}` has more than {1} significant digits before the decimal point")]
    Overflow(String, u32),
}

/// Parses `text` (`12`, `-0.5`, `2.5E-05`, `1e3`, `+7.`) into an integer scaled by `10^scale`,
/// rounding digits beyond `scale` decimal places half to even (only values printed from
/// doubles in exponent form have that many). At most `precision` digits in all.
pub fn parse(text: &str, scale: u32, precision: u32) -> Result<i128, DecimalError> {
    parse_rounding(text, scale, precision).map(|(v, _)| v)
}

/// [`parse`], and whether non-zero digits beyond `scale` places were rounded away (Cost
/// Management exports print .NET decimals with up to 28 places).
pub fn parse_rounding(
    text: &str,
    scale: u32,
    precision: u32,
) -> Result<(i128, bool), DecimalError> {
    let err = || DecimalError::Syntax(text.to_string());
    let bytes = text.trim().as_bytes();
    let (negative, rest) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    let mut digits: Vec<u8> = Vec::with_capacity(24);
    let mut frac_len: i64 = 0;
    let mut seen_point = false;
    let mut seen_digit = false;
    let mut i = 0;
    while i < rest.len() {
        match rest[i] {
            c @ b'0'..=b'9' => {
                seen_digit = true;
                if !(digits.is_empty() && c == b'0') {
                    digits.push(c - b'0');
                }
                if seen_point {
                    frac_len += 1;
                }
            }
            b'.' if !seen_point => seen_point = true,
            b'e' | b'E' => break,
            _ => return Err(err()),
        }
        i += 1;
    }
    if !seen_digit {
        return Err(err());
    }
    let mut exponent: i64 = 0;
    if i < rest.len() {
        let exp_text = std::str::from_utf8(&rest[i + 1..]).map_err(|_| err())?;
        exponent = exp_text.parse::<i64>().map_err(|_| err())?;
        if exponent.abs() > 1000 {
            return Err(err());
        }
    }
    // value = digits × 10^(exponent − frac_len); we want value × 10^scale.
    let shift = exponent - frac_len + scale as i64;
    let mut mantissa: i128 = 0;
    let mut rounded = false;
    let keep = if shift >= 0 {
        digits.len()
    } else {
        (digits.len() as i64 + shift).max(0) as usize
    };
    let overflow = || DecimalError::Overflow(text.to_string(), precision.saturating_sub(scale));
    for &d in &digits[..keep] {
        mantissa = mantissa
            .checked_mul(10)
            .and_then(|m| m.checked_add(d as i128))
            .ok_or_else(overflow)?;
    }
    if shift > 0 {
        for _ in 0..shift {
            mantissa = mantissa.checked_mul(10).ok_or_else(overflow)?;
        }
    } else if keep < digits.len() {
        // Round half to even on the dropped digits.
        let dropped = &digits[keep..];
        rounded = dropped.iter().any(|&d| d != 0);
        let first = dropped[0];
        let rest_nonzero = dropped[1..].iter().any(|&d| d != 0);
        let dropped_all = (digits.len() as i64 + shift) < 0;
        let round_up = if dropped_all {
            false
        } else {
            first > 5 || (first == 5 && (rest_nonzero || mantissa % 2 == 1))
        };
        if round_up {
            mantissa += 1;
        }
    }
    if mantissa != 0 && mantissa.unsigned_abs() >= 10u128.pow(precision) {
        return Err(overflow());
    }
    Ok((if negative { -mantissa } else { mantissa }, rounded))
}

/// Prints a scaled integer as exact plain decimal text without trailing zeros: `12.5`, `3`,
/// `-0.000025`.
pub fn format_plain(mantissa: i128, scale: u32) -> String {
    let (digits, point) = trimmed(mantissa, scale);
    let mut out = String::with_capacity(digits.len() + 4);
    if mantissa < 0 {
        out.push('-');
    }
    if point == 0 {
        out.push_str(&digits);
    } else if digits.len() > point {
        let (int, frac) = digits.split_at(digits.len() - point);
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point - digits.len()));
        out.push_str(&digits);
    }
    out
}

/// Prints a scaled integer the way the EA service prints numbers (.NET's shortest round-trip
/// form): whole numbers without a decimal point, values below 1E-04 in exponent notation with a
/// two-digit exponent (`2.5E-05`), everything else plain.
pub fn format_api(mantissa: i128, scale: u32) -> String {
    let (digits, point) = trimmed(mantissa, scale);
    // Decimal exponent of the leading digit.
    let lead_exp = digits.len() as i64 - 1 - point as i64;
    if mantissa == 0 || lead_exp > -5 {
        return format_plain(mantissa, scale);
    }
    let mut out = String::new();
    if mantissa < 0 {
        out.push('-');
    }
    out.push_str(&digits[..1]);
    if digits.len() > 1 {
        out.push('.');
        out.push_str(&digits[1..]);
    }
    let _ = write!(out, "E-{:02}", -lead_exp);
    out
}

/// The significant digits of |mantissa| with trailing fractional zeros removed, and how many of
/// them are fractional.
fn trimmed(mantissa: i128, scale: u32) -> (String, usize) {
    let mut m = mantissa.unsigned_abs();
    let mut point = scale as usize;
    while point > 0 && m.is_multiple_of(10) && m != 0 {
        m /= 10;
        point -= 1;
    }
    if m == 0 {
        return ("0".to_string(), 0);
    }
    (m.to_string(), point)
}

/// Rescales `mantissa` from scale `from` to the larger scale `to`.
pub fn rescale_up(mantissa: i128, from: u32, to: u32) -> i128 {
    mantissa * 10i128.pow(to - from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_notation_exactly() {
        assert_eq!(parse("12", 2, 38), Ok(1200));
        assert_eq!(parse("-0.5", 2, 38), Ok(-50));
        assert_eq!(parse("2.5E-05", 18, 38), Ok(25_000_000_000_000));
        assert_eq!(parse("1e3", 0, 38), Ok(1000));
        assert_eq!(parse("1.0E+2", 1, 38), Ok(1000));
        assert_eq!(parse("0.1", 18, 38), Ok(100_000_000_000_000_000));
        assert_eq!(parse("1E-10", 18, 38), Ok(100_000_000));
        assert_eq!(
            parse("0.30000000000000004", 18, 38),
            Ok(300_000_000_000_000_040)
        );
        assert_eq!(parse("007", 0, 38), Ok(7));
        assert_eq!(parse("0", 18, 38), Ok(0));
        assert_eq!(parse("-0.0", 18, 38), Ok(0));
    }

    #[test]
    fn rounds_beyond_scale_half_to_even() {
        assert_eq!(parse("0.125", 2, 38), Ok(12));
        assert_eq!(parse("0.135", 2, 38), Ok(14));
        assert_eq!(parse("0.1251", 2, 38), Ok(13));
        assert_eq!(parse("1E-30", 18, 38), Ok(0));
    }

    #[test]
    fn rejects_what_is_not_a_number() {
        for bad in ["", "-", "1.2.3", "abc", "1e", "1,5", "0x10", "NaN"] {
            assert!(
                matches!(parse(bad, 2, 38), Err(DecimalError::Syntax(_))),
                "{bad}"
            );
        }
        assert!(matches!(
            parse("1e30", 18, 38),
            Err(DecimalError::Overflow(..))
        ));
    }

    #[test]
    fn prints_like_the_service() {
        assert_eq!(format_api(25_000, 9), "2.5E-05");
        assert_eq!(format_api(1, 10), "1E-10");
        assert_eq!(format_api(1_000, 7), "0.0001");
        assert_eq!(format_api(300, 2), "3");
        assert_eq!(format_api(-1234, 3), "-1.234");
        assert_eq!(format_api(0, 5), "0");
        assert_eq!(format_plain(25_000, 9), "0.000025");
        assert_eq!(format_plain(-5, 1), "-0.5");
        for (m, s) in [
            (25_000i128, 9u32),
            (1, 10),
            (123_456_789, 18),
            (-7, 3),
            (10, 0),
        ] {
            let back = parse(&format_api(m, s), s, 38).unwrap();
            assert_eq!(back, m);
        }
    }
}
