//! Checksums and structural rules that tell personal data from look-alike digit runs, shared
//! by the dataset audit and the guard's output monitor: the Luhn check of payment card numbers,
//! the ISO 13616 IBAN check and the SSA rules of US social security numbers. The patterns that
//! find candidates, and what each caller does with a match, stay with the caller.

/// Luhn checksum over the ASCII and Unicode decimal digits of `s` (other characters ignored);
/// false unless there are 13 to 19 digits, the lengths of payment card numbers.
pub fn luhn_valid(s: &str) -> bool {
    let digits: Vec<u32> = s.chars().filter_map(|c| c.to_digit(10)).collect();
    if !(13..=19).contains(&digits.len()) {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2 == 1, d * 2) {
            (false, _) => d,
            (true, x) if x > 9 => x - 9,
            (true, x) => x,
        })
        .sum();
    sum.is_multiple_of(10)
}

/// ISO 13616 IBAN check: 15 to 34 ASCII characters (whitespace ignored); the first four moved
/// to the end, letters turned into numbers, the remainder mod 97 must be 1.
pub fn iban_valid(s: &str) -> bool {
    let compact: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if !(15..=34).contains(&compact.len()) || !compact.is_ascii() {
        return false;
    }
    let (head, tail) = compact.split_at(4);
    let mut rem: u32 = 0;
    for c in tail.chars().chain(head.chars()) {
        let Some(v) = c.to_digit(36) else {
            return false;
        };
        let scale = if v >= 10 { 100 } else { 10 };
        rem = (rem * scale + v) % 97;
    }
    rem == 1
}

/// SSA structural rules of a US social security number `area-group-serial`: the area is not
/// 000, 666 or 9xx, the group not 00 and the serial not 0000.
pub fn ssn_valid(area: &str, group: &str, serial: &str) -> bool {
    area != "000" && area != "666" && !area.starts_with('9') && group != "00" && serial != "0000"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_accepts_test_cards_and_rejects_one_digit_off() {
        assert!(luhn_valid("4111 1111 1111 1111"));
        assert!(luhn_valid("4012888888881881"));
        assert!(!luhn_valid("4012888888881882"));
        // Too short or too long for a card, even with a valid checksum.
        assert!(!luhn_valid("0"));
        assert!(!luhn_valid("1234"));
        assert!(!luhn_valid(&"0".repeat(20)));
        // All zeros pass the checksum: callers decide whether that is data.
        assert!(luhn_valid(&"0".repeat(16)));
    }

    #[test]
    fn iban_mod_97() {
        assert!(iban_valid("GB82 WEST 1234 5698 7654 32"));
        assert!(!iban_valid("GB83 WEST 1234 5698 7654 32"));
        assert!(!iban_valid("GB82 WEST"));
        assert!(!iban_valid("GB82 WEST 1234 5698 7654 3\u{e9}"));
    }

    #[test]
    fn ssn_structure() {
        assert!(ssn_valid("123", "45", "6789"));
        for (a, g, s) in [
            ("000", "12", "3456"),
            ("666", "45", "6789"),
            ("900", "12", "3456"),
        ] {
            assert!(!ssn_valid(a, g, s), "{a}-{g}-{s}");
        }
        assert!(!ssn_valid("123", "00", "6789") && !ssn_valid("123", "45", "0000"));
    }
}
