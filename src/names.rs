//! Picking a name: uniformly at random, optionally among those with a given prefix.
//!
//! Matching is Unicode-aware and case-insensitive: both sides are compared character by
//! character in lowercase, with the Greek final sigma folded to `σ` so `ΔΗΜΉΤΡΗΣ` finds
//! `Δημήτρης`. It allocates nothing and needs no precomputed table, so a request pays only
//! for the names it looks at. Inputs are compared as sent (no Unicode normalisation); the
//! list is NFC, which is what keyboards and browsers produce.

use rand::RngExt;

pub use crate::names_list::NAMES;
use crate::query::StartsWith;

/// Pick a name uniformly among those matching `prefix` (all names when `None`).
///
/// `None` when nothing matches. `rng` is the host's secure source in production and a
/// seeded generator in tests.
pub fn pick<R: rand::Rng + ?Sized>(
    prefix: Option<&StartsWith>,
    rng: &mut R,
) -> Option<&'static str> {
    let Some(prefix) = prefix else {
        return Some(NAMES[rng.random_range(0..NAMES.len())]);
    };
    let prefix = prefix.as_str();
    let matches = NAMES.iter().filter(|name| has_prefix(name, prefix)).count();
    if matches == 0 {
        return None;
    }
    let chosen = rng.random_range(0..matches);
    NAMES
        .iter()
        .copied()
        .filter(|name| has_prefix(name, prefix))
        .nth(chosen)
}

/// Whether `name` starts with `prefix`, both compared in lowercase.
pub fn has_prefix(name: &str, prefix: &str) -> bool {
    let mut name = folded(name);
    folded(prefix).all(|p| name.next() == Some(p))
}

fn folded(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars()
        .flat_map(char::to_lowercase)
        .map(|c| if c == 'ς' { 'σ' } else { c })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::validate;
    use rand::{rngs::StdRng, SeedableRng};
    use std::collections::{HashMap, HashSet};

    fn sw(text: &str) -> StartsWith {
        validate(text.to_owned()).unwrap()
    }

    #[test]
    fn the_list_is_large_unique_and_covers_every_letter() {
        assert!(NAMES.len() >= 300, "hundreds of names, got {}", NAMES.len());
        let unique: HashSet<_> = NAMES.iter().collect();
        assert_eq!(unique.len(), NAMES.len(), "duplicates in the list");
        for letter in 'a'..='z' {
            let count = NAMES
                .iter()
                .filter(|n| has_prefix(n, &letter.to_string()))
                .count();
            assert!(count >= 5, "letter {letter} has only {count} names");
        }
    }

    #[test]
    fn every_name_is_a_valid_filter_that_finds_itself() {
        for name in NAMES {
            let filter = validate((*name).to_owned()).expect(name);
            let mut rng = StdRng::seed_from_u64(1);
            let picked = pick(Some(&filter), &mut rng).unwrap();
            assert!(has_prefix(picked, name), "{name} -> {picked}");
        }
    }

    #[test]
    fn prefix_matching_is_case_insensitive_and_unicode_aware() {
        assert!(has_prefix("Nadia", "n"));
        assert!(has_prefix("Nadia", "NAD"));
        assert!(has_prefix("Ñusta", "ñU"));
        assert!(!has_prefix("Nadia", "Ñ"));
        assert!(has_prefix("Δημήτρης", "ΔΗΜΉΤΡΗΣ"));
        assert!(has_prefix("Øystein", "ø"));
        assert!(has_prefix("İlkay", "İ"));
        assert!(!has_prefix("Ada", "Adam"));
        assert!(has_prefix("Ada", ""));
    }

    #[test]
    fn no_match_is_none() {
        let mut rng = StdRng::seed_from_u64(7);
        assert_eq!(pick(Some(&sw("Qqq")), &mut rng), None);
        assert_eq!(pick(Some(&sw("Ño")), &mut rng), None);
    }

    #[test]
    fn draws_are_uniform_over_the_matches() {
        let mut rng = StdRng::seed_from_u64(42);
        let filter = sw("Q");
        let matches: Vec<_> = NAMES.iter().filter(|n| has_prefix(n, "q")).collect();
        let draws = 20_000;
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for _ in 0..draws {
            *seen
                .entry(pick(Some(&filter), &mut rng).unwrap())
                .or_default() += 1;
        }
        assert_eq!(seen.len(), matches.len(), "every match must be drawn");
        // Chi-squared against uniform; 99.9th percentile for <= 20 degrees of freedom is < 46.
        let expected = draws as f64 / matches.len() as f64;
        let chi2: f64 = seen
            .values()
            .map(|&n| (n as f64 - expected).powi(2) / expected)
            .sum();
        assert!(chi2 < 46.0, "chi2 = {chi2}");
    }

    #[test]
    fn unfiltered_draws_reach_the_whole_list() {
        let mut rng = StdRng::seed_from_u64(3);
        let seen: HashSet<_> = (0..40_000).map(|_| pick(None, &mut rng).unwrap()).collect();
        assert_eq!(seen.len(), NAMES.len());
    }
}
