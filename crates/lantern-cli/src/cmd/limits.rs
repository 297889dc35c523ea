//! Bounds on what the command line may ask for: worker thread counts.

/// Most worker threads any command starts, whatever `-j` says.
pub const MAX_THREADS: usize = 256;

/// The thread count to use for `requested` (`0` = one per core): at most four per core and
/// never more than [`MAX_THREADS`]. A clamped request is said on standard error.
pub fn clamp_threads(requested: usize, flag: &str) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let max = cores.saturating_mul(4).clamp(1, MAX_THREADS);
    if requested > max {
        eprintln!(
            "lantern: {flag} {requested} is more than {max} (4 per core, at most {MAX_THREADS}): using {max}"
        );
        return max;
    }
    requested
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_to_four_per_core_and_keeps_small_requests() {
        assert_eq!(clamp_threads(0, "-j"), 0);
        assert_eq!(clamp_threads(1, "-j"), 1);
        let big = clamp_threads(100_000, "-j");
        assert!((1..=MAX_THREADS).contains(&big), "{big}");
    }
}
