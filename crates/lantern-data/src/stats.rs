//! Small statistics used by the audit: chi-squared survival function (regularised incomplete
//! gamma), the G-test (log-likelihood ratio) for 2×2 and 2×k tables, Jensen–Shannon divergence
//! and robust z-scores.

/// ln Γ(x) for x > 0 (Lanczos approximation, g = 7, n = 9; relative error below 1e-13).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularised upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a).
pub fn gamma_q(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 1.0;
    }
    if !x.is_finite() {
        return 0.0;
    }
    let lead = -x + a * x.ln() - ln_gamma(a);
    if x < a + 1.0 {
        // Series for P(a, x).
        let mut sum = 1.0 / a;
        let mut term = sum;
        let mut ap = a;
        for _ in 0..500 {
            ap += 1.0;
            term *= x / ap;
            sum += term;
            if term.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        (1.0 - sum * lead.exp()).clamp(0.0, 1.0)
    } else {
        // Continued fraction for Q(a, x) (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..500 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-15 {
                break;
            }
        }
        (lead.exp() * h).clamp(0.0, 1.0)
    }
}

/// Survival function of the chi-squared distribution with `k` degrees of freedom.
pub fn chi2_sf(x: f64, k: f64) -> f64 {
    gamma_q(k / 2.0, x / 2.0)
}

/// Natural log of the chi-squared survival function, accurate far into the tail (where the
/// p-value underflows): uses the asymptotic leading term of Γ(a, x).
pub fn ln_chi2_sf(x: f64, k: f64) -> f64 {
    let p = chi2_sf(x, k);
    if p > 1e-300 {
        return p.ln();
    }
    let a = k / 2.0;
    let y = x / 2.0;
    // Γ(a, y) ~ y^(a-1) e^(-y) for large y.
    (a - 1.0) * y.ln() - y - ln_gamma(a)
}

fn xlogx_ratio(o: f64, e: f64) -> f64 {
    if o <= 0.0 || e <= 0.0 {
        0.0
    } else {
        o * (o / e).ln()
    }
}

/// G statistic of a 2×2 table `[[a, b], [c, d]]` (rows: has feature / not; columns: label /
/// other labels).
pub fn g_test_2x2(a: f64, b: f64, c: f64, d: f64) -> f64 {
    let n = a + b + c + d;
    if n <= 0.0 {
        return 0.0;
    }
    let r1 = a + b;
    let r2 = c + d;
    let c1 = a + c;
    let c2 = b + d;
    2.0 * (xlogx_ratio(a, r1 * c1 / n)
        + xlogx_ratio(b, r1 * c2 / n)
        + xlogx_ratio(c, r2 * c1 / n)
        + xlogx_ratio(d, r2 * c2 / n))
}

/// Chi-squared test of homogeneity of two count vectors over the same categories.
/// Returns (statistic, degrees of freedom, p-value).
pub fn chi2_homogeneity(x: &[f64], y: &[f64]) -> (f64, f64, f64) {
    let nx: f64 = x.iter().sum();
    let ny: f64 = y.iter().sum();
    let n = nx + ny;
    if nx <= 0.0 || ny <= 0.0 {
        return (0.0, 0.0, 1.0);
    }
    let mut stat = 0.0;
    let mut cats = 0usize;
    for (a, b) in x.iter().zip(y) {
        let col = a + b;
        if col <= 0.0 {
            continue;
        }
        cats += 1;
        let ea = nx * col / n;
        let eb = ny * col / n;
        stat += (a - ea).powi(2) / ea + (b - eb).powi(2) / eb;
    }
    let df = cats.saturating_sub(1) as f64;
    if df == 0.0 {
        return (stat, 0.0, 1.0);
    }
    (stat, df, chi2_sf(stat, df))
}

/// Jensen–Shannon divergence (base 2, in [0, 1]) between two count vectors.
pub fn js_divergence(x: &[f64], y: &[f64]) -> f64 {
    let nx: f64 = x.iter().sum();
    let ny: f64 = y.iter().sum();
    if nx <= 0.0 || ny <= 0.0 {
        return 0.0;
    }
    let mut js = 0.0;
    for (a, b) in x.iter().zip(y) {
        let p = a / nx;
        let q = b / ny;
        let m = (p + q) / 2.0;
        if p > 0.0 {
            js += 0.5 * p * (p / m).log2();
        }
        if q > 0.0 {
            js += 0.5 * q * (q / m).log2();
        }
    }
    js.clamp(0.0, 1.0)
}

/// Median and median absolute deviation (scaled by 1.4826 to estimate σ) of `v`.
pub fn median_mad(v: &mut [f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let med = median_sorted(v);
    let mut dev: Vec<f64> = v.iter().map(|x| (x - med).abs()).collect();
    dev.sort_by(|a, b| a.total_cmp(b));
    (med, 1.4826 * median_sorted(&dev))
}

fn median_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n == 0 {
        return 0.0;
    }
    let hi = v.get(n / 2).copied().unwrap_or(0.0);
    if n % 2 == 1 {
        hi
    } else {
        (v.get(n / 2 - 1).copied().unwrap_or(hi) + hi) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol * b.abs().max(1e-300)
    }

    #[test]
    fn chi2_matches_reference_values() {
        // scipy.stats.chi2.sf reference values.
        assert!(close(chi2_sf(3.841_458_820_694_124, 1.0), 0.05, 1e-9));
        assert!(close(chi2_sf(10.0, 3.0), 0.018_566_135_463_043_3, 1e-9));
        assert!(close(chi2_sf(1.0, 2.0), 0.606_530_659_712_633_4, 1e-9));
        assert!(close(chi2_sf(100.0, 1.0), 1.523_970_604_832_105e-23, 1e-6));
        assert!(close(ln_gamma(10.0), 12.801_827_480_081_469, 1e-12));
        // Far tail stays finite and monotone.
        assert!(ln_chi2_sf(2000.0, 1.0) < ln_chi2_sf(1000.0, 1.0));
        assert!(ln_chi2_sf(2000.0, 1.0) < -990.0);
    }

    #[test]
    fn g_test_and_homogeneity() {
        // Independent table: G = 0.
        assert!(g_test_2x2(10.0, 10.0, 40.0, 40.0).abs() < 1e-12);
        // Strong association: 2 Σ o ln(o / e), computed independently in Python.
        assert!(close(
            g_test_2x2(30.0, 0.0, 20.0, 50.0),
            54.871_693_710_053_05,
            1e-6
        ));
        let (s, df, p) = chi2_homogeneity(&[50.0, 50.0], &[50.0, 50.0]);
        assert_eq!((s, df, p), (0.0, 1.0, 1.0));
        let (_, _, p) = chi2_homogeneity(&[500.0, 500.0], &[700.0, 300.0]);
        assert!(p < 1e-10);
        assert!(js_divergence(&[1.0, 0.0], &[0.0, 1.0]) > 0.999);
        assert!(js_divergence(&[3.0, 1.0], &[6.0, 2.0]) < 1e-12);
        let mut v = vec![1.0, 2.0, 3.0, 4.0, 100.0];
        let (m, s) = median_mad(&mut v);
        assert_eq!(m, 3.0);
        assert!(close(s, 1.4826, 1e-9));
    }
}
