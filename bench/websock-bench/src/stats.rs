//! Statistics: a log-linear latency histogram (fixed memory, mergeable across worker
//! processes through a compact text form) and least-squares slopes, which turn memory
//! readings taken at several connection counts into bytes per connection while
//! cancelling the fixed baseline.

/// Sub-buckets per power of two: 32 gives at most ~3% relative error per value.
const SUB_BITS: u32 = 5;
const SUB: u64 = 1 << SUB_BITS;
/// Values up to 2^40 ns (~18 minutes) are kept; larger ones land in the last bucket.
const GROUPS: u32 = 40 - SUB_BITS + 1;
const BUCKETS: usize = (SUB as usize) * (GROUPS as usize + 1);

/// Latency histogram over nanoseconds.
#[derive(Clone)]
pub struct Histogram {
    counts: Vec<u64>,
    pub count: u64,
    pub sum: u128,
    pub min: u64,
    pub max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; BUCKETS], count: 0, sum: 0, min: u64::MAX, max: 0 }
    }
}

/// Bucket of a value: values below SUB are exact; above, the top SUB_BITS+1 bits select it.
fn bucket_of(v: u64) -> usize {
    if v < SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros(); // >= SUB_BITS
    let group = (msb - SUB_BITS + 1).min(GROUPS);
    if group == GROUPS && msb - SUB_BITS + 1 > GROUPS {
        return BUCKETS - 1;
    }
    let shift = msb - SUB_BITS;
    let sub = (v >> shift) - SUB; // 0..SUB
    (group as usize) * SUB as usize + sub as usize
}

/// Lowest and highest value that fall in bucket `b`.
fn bucket_range(b: usize) -> (u64, u64) {
    let group = (b / SUB as usize) as u32;
    let sub = (b % SUB as usize) as u64;
    if group == 0 {
        return (sub, sub);
    }
    let shift = group - 1;
    let lo = (SUB + sub) << shift;
    let hi = lo + (1u64 << shift) - 1;
    (lo, hi)
}

impl Histogram {
    pub fn record(&mut self, v: u64) {
        self.counts[bucket_of(v)] += 1;
        self.count += 1;
        self.sum += v as u128;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn merge(&mut self, o: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&o.counts) {
            *a += b;
        }
        self.count += o.count;
        self.sum += o.sum;
        self.min = self.min.min(o.min);
        self.max = self.max.max(o.max);
    }

    pub fn mean(&self) -> f64 {
        if self.count == 0 { 0.0 } else { self.sum as f64 / self.count as f64 }
    }

    /// The value at quantile `q` (0..=1): the midpoint of the bucket holding the
    /// ceil(q*count)-th value, clamped to the observed min and max.
    pub fn percentile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).max(1);
        if rank >= self.count {
            return self.max; // the top value is known exactly
        }
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let (lo, hi) = bucket_range(b);
                return (lo + (hi - lo) / 2).clamp(self.min, self.max);
            }
        }
        self.max
    }

    /// Compact text form `count sum min max b:c,b:c,...` for worker → parent reports.
    pub fn encode(&self) -> String {
        let mut s = format!("{} {} {} {} ", self.count, self.sum, if self.count == 0 { 0 } else { self.min }, self.max);
        let mut first = true;
        for (b, &c) in self.counts.iter().enumerate() {
            if c > 0 {
                if !first {
                    s.push(',');
                }
                first = false;
                s.push_str(&format!("{b}:{c}"));
            }
        }
        if first {
            s.push('-');
        }
        s
    }

    pub fn decode(s: &str) -> Option<Histogram> {
        let mut it = s.split_whitespace();
        let mut h = Histogram {
            count: it.next()?.parse().ok()?,
            sum: it.next()?.parse().ok()?,
            min: it.next()?.parse().ok()?,
            max: it.next()?.parse().ok()?,
            ..Default::default()
        };
        if h.count == 0 {
            h.min = u64::MAX;
        }
        let body = it.next()?;
        if body != "-" {
            for pair in body.split(',') {
                let (b, c) = pair.split_once(':')?;
                let b: usize = b.parse().ok()?;
                *h.counts.get_mut(b)? = c.parse().ok()?;
            }
        }
        Some(h)
    }

    /// p50/p90/p99/p99.9/max in microseconds, for reports.
    pub fn summary_us(&self) -> LatencySummary {
        let us = |v: u64| v as f64 / 1000.0;
        LatencySummary {
            count: self.count,
            mean: self.mean() / 1000.0,
            p50: us(self.percentile(0.50)),
            p90: us(self.percentile(0.90)),
            p99: us(self.percentile(0.99)),
            p999: us(self.percentile(0.999)),
            max: us(self.max),
        }
    }
}

/// Latency figures in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// Least-squares slope of y over x (None with fewer than two distinct x).
pub fn slope(points: &[(f64, f64)]) -> Option<f64> {
    let n = points.len() as f64;
    if points.len() < 2 {
        return None;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx).powi(2)).sum();
    if sxx == 0.0 {
        return None;
    }
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    Some(sxy / sxx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::default();
        for v in 0..20 {
            h.record(v);
        }
        assert_eq!(h.percentile(0.5), 9);
        assert_eq!(h.percentile(1.0), 19);
        assert_eq!(h.percentile(0.0), 0);
        assert_eq!(h.count, 20);
    }

    #[test]
    fn percentiles_of_uniform_1_to_100000_within_3_percent() {
        let mut h = Histogram::default();
        for v in 1..=100_000u64 {
            h.record(v);
        }
        for (q, want) in [(0.5, 50_000.0), (0.9, 90_000.0), (0.99, 99_000.0), (0.999, 99_900.0)] {
            let got = h.percentile(q) as f64;
            assert!((got - want).abs() / want < 0.03, "q={q} got {got} want {want}");
        }
        assert_eq!(h.percentile(1.0), 100_000);
        assert!((h.mean() - 50_000.5).abs() < 1e-6);
    }

    #[test]
    fn skewed_distribution_tail() {
        // 990 fast values at 100 µs, 10 slow at 50 ms: p99 is fast, p99.9 is slow.
        let mut h = Histogram::default();
        for _ in 0..990 {
            h.record(100_000);
        }
        for _ in 0..10 {
            h.record(50_000_000);
        }
        let p99 = h.percentile(0.99) as f64;
        let p999 = h.percentile(0.999) as f64;
        assert!((p99 - 100_000.0).abs() / 100_000.0 < 0.03, "{p99}");
        assert!((p999 - 50_000_000.0).abs() / 50_000_000.0 < 0.03, "{p999}");
    }

    #[test]
    fn buckets_cover_values_monotonically() {
        let mut last = 0;
        for v in (0..1_000_000u64).step_by(7).chain([1 << 39, (1 << 40) - 1, 1 << 41, u64::MAX]) {
            let b = bucket_of(v);
            assert!(b >= last, "bucket order broke at {v}");
            last = b;
            let (lo, hi) = bucket_range(b);
            if b < BUCKETS - 1 {
                assert!(lo <= v && v <= hi, "{v} not in [{lo},{hi}] (bucket {b})");
            }
        }
    }

    #[test]
    fn encode_decode_merge() {
        let mut a = Histogram::default();
        let mut b = Histogram::default();
        for v in [5, 500, 5000, 50_000] {
            a.record(v);
        }
        for v in [7, 700_000] {
            b.record(v);
        }
        let a2 = Histogram::decode(&a.encode()).unwrap();
        assert_eq!(a2.count, 4);
        assert_eq!(a2.percentile(1.0), a.percentile(1.0));
        let mut m = a2;
        m.merge(&Histogram::decode(&b.encode()).unwrap());
        assert_eq!(m.count, 6);
        assert_eq!(m.min, 5);
        assert_eq!(m.max, 700_000);
        let empty = Histogram::decode(&Histogram::default().encode()).unwrap();
        assert_eq!(empty.count, 0);
        assert_eq!(empty.percentile(0.5), 0);
    }

    #[test]
    fn slope_recovers_bytes_per_connection() {
        // baseline 3 MB plus 412 bytes per connection, with ±2 KB noise.
        let pts: Vec<(f64, f64)> = [(1000.0, 2000.0), (5000.0, -2000.0), (9000.0, 1000.0), (13000.0, 0.0)]
            .iter()
            .map(|&(x, noise)| (x, 3e6 + 412.0 * x + noise))
            .collect();
        let s = slope(&pts).unwrap();
        assert!((s - 412.0).abs() < 1.0, "{s}");
        assert_eq!(slope(&[(1.0, 1.0)]), None);
        assert_eq!(slope(&[(2.0, 1.0), (2.0, 5.0)]), None);
    }
}
