//! A merging t-digest (Dunning & Ertl, "Computing extremely accurate quantiles using
//! t-digests", 2019) for `tdigest()`, `tdigest_merge()` and the `*_tdigest` functions.
//!
//! * Up to [`MAX_CENTROIDS`] distinct values the digest keeps every distinct value with
//!   its total weight, so percentiles and ranks are exact (nearest-rank, as Kusto defines
//!   `percentile`). Beyond, it compresses with the `k1` (arcsine) scale function at
//!   compression [`COMPRESSION`]: tails stay tight and the rank error near the median is a
//!   fraction of a percent — within the 1% cap of Kusto's docs. The minimum and maximum
//!   are kept exactly (Kusto: percentiles 0 and 100 are the exact extremes).
//! * A digest is a `dynamic` value shaped like Kusto's: `[[<type>], [means...],
//!   [weights...]]` while exact (Kusto's own digests of small inputs are read as they
//!   are), `[[<type>, <min>, <max>], [means...], [weights...]]` once compressed.
//!   Type 7 (`long`) is Kusto's code; the others are Calypso's ([`ValueKind::code`]).
//!   Values are reals; datetimes and timespans are their nanoseconds.

use serde_json::Value;

use crate::datetime::format::{datetime_iso, timespan_constant};
use crate::dynamic::json::real_to_json;

/// The scale function's compression δ (about δ/2 centroids after a compression).
pub const COMPRESSION: f64 = 200.0;

/// Centroids kept before a compression (and distinct values counted exactly).
pub const MAX_CENTROIDS: usize = 2000;

/// The type of the values a digest summarizes (what its percentiles return).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// `int`.
    Int,
    /// `long`.
    Long,
    /// `real` (and `decimal`).
    Real,
    /// `datetime` (nanoseconds since 1970).
    DateTime,
    /// `timespan` (nanoseconds).
    TimeSpan,
}

impl ValueKind {
    /// The type's number in a digest's header.
    pub fn code(self) -> i64 {
        match self {
            ValueKind::Int => 6,
            ValueKind::Long => 7,
            ValueKind::Real => 8,
            ValueKind::DateTime => 9,
            ValueKind::TimeSpan => 10,
        }
    }

    /// The type of a header number; numbers Calypso does not write are reals.
    pub fn from_code(code: i64) -> ValueKind {
        match code {
            6 => ValueKind::Int,
            7 => ValueKind::Long,
            9 => ValueKind::DateTime,
            10 => ValueKind::TimeSpan,
            _ => ValueKind::Real,
        }
    }

    fn integral(self) -> bool {
        !matches!(self, ValueKind::Real)
    }

    /// The type of a merge of digests of `self` and `other`: numbers widen (`int` →
    /// `long` → `real`), datetimes and timespans only merge with their own kind.
    pub fn merge_with(self, other: ValueKind) -> Option<ValueKind> {
        use ValueKind::*;
        match (self, other) {
            (a, b) if a == b => Some(a),
            (Int, Long) | (Long, Int) => Some(Long),
            (Int | Long | Real, Int | Long | Real) => Some(Real),
            _ => None,
        }
    }

    /// A value of this type as a `dynamic` JSON value (`long`s rounded, datetimes and
    /// timespans in Kusto's text forms).
    pub fn to_json(self, v: f64) -> Value {
        let whole = || {
            let r = v.round();
            (r.is_finite() && r.abs() < 9.2e18).then_some(r as i64)
        };
        match self {
            ValueKind::Real => real_to_json(v),
            ValueKind::Int | ValueKind::Long => whole().map_or(Value::Null, Value::from),
            ValueKind::DateTime => {
                whole().map_or(Value::Null, |ns| Value::String(datetime_iso(ns)))
            }
            ValueKind::TimeSpan => {
                whole().map_or(Value::Null, |ns| Value::String(timespan_constant(ns)))
            }
        }
    }
}

/// A cluster of values: their mean and total weight.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Centroid {
    /// The mean.
    pub mean: f64,
    /// The total weight (a count, for unweighted input).
    pub weight: f64,
}

/// A t-digest.
#[derive(Debug, Clone, PartialEq)]
pub struct TDigest {
    kind: ValueKind,
    /// Sorted by mean, distinct means.
    centroids: Vec<Centroid>,
    /// Values added since the last flush, unsorted.
    buffer: Vec<Centroid>,
    min: f64,
    max: f64,
    total: f64,
    /// Every centroid holds one distinct value.
    exact: bool,
}

fn k1(q: f64) -> f64 {
    COMPRESSION / (2.0 * std::f64::consts::PI) * (2.0 * q.clamp(0.0, 1.0) - 1.0).asin()
}

fn lerp(a: f64, b: f64, t: f64) -> f64 {
    a + (b - a) * t.clamp(0.0, 1.0)
}

fn number_json(v: f64, integral: bool) -> Value {
    if integral && v.fract() == 0.0 && v.abs() < 9.2e18 {
        Value::from(v as i64)
    } else {
        real_to_json(v)
    }
}

impl TDigest {
    /// An empty digest of values of `kind`.
    pub fn new(kind: ValueKind) -> TDigest {
        TDigest {
            kind,
            centroids: Vec::new(),
            buffer: Vec::new(),
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            total: 0.0,
            exact: true,
        }
    }

    /// The type of the values.
    pub fn kind(&self) -> ValueKind {
        self.kind
    }

    /// The total weight.
    pub fn total(&self) -> f64 {
        self.total
    }

    /// Whether the digest still holds every distinct value.
    pub fn is_exact(&self) -> bool {
        self.exact
    }

    /// Approximate heap size in bytes.
    pub fn size(&self) -> usize {
        size_of::<Self>()
            + (self.centroids.capacity() + self.buffer.capacity()) * size_of::<Centroid>()
    }

    /// Adds `v` with weight `w` (non-finite values and weights ≤ 0 are ignored).
    pub fn add(&mut self, v: f64, w: f64) {
        if !v.is_finite() || !w.is_finite() || w <= 0.0 {
            return;
        }
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.total += w;
        self.buffer.push(Centroid { mean: v, weight: w });
        if self.buffer.len() >= MAX_CENTROIDS {
            self.flush();
        }
    }

    /// Merges another digest into this one; `false` (and nothing merged) when their
    /// types do not merge.
    pub fn merge(&mut self, other: &TDigest) -> bool {
        let Some(kind) = self.kind.merge_with(other.kind) else {
            return false;
        };
        self.kind = kind;
        self.exact &= other.exact;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.total += other.total;
        self.buffer
            .extend(other.centroids.iter().chain(&other.buffer).copied());
        if self.buffer.len() >= MAX_CENTROIDS {
            self.flush();
        }
        true
    }

    /// Sorts the buffered values into the centroids (compressing beyond the limit).
    pub fn flush(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        self.centroids.append(&mut self.buffer);
        self.centroids.sort_by(|a, b| a.mean.total_cmp(&b.mean));
        let mut out: Vec<Centroid> = Vec::with_capacity(self.centroids.len());
        for c in self.centroids.drain(..) {
            match out.last_mut() {
                Some(last) if last.mean == c.mean => last.weight += c.weight,
                _ => out.push(c),
            }
        }
        self.centroids = out;
        if self.centroids.len() > MAX_CENTROIDS {
            self.compress();
        }
    }

    /// Merges neighbouring centroids as far as the `k1` scale function allows.
    fn compress(&mut self) {
        let n: f64 = self.centroids.iter().map(|c| c.weight).sum();
        let mut iter = self.centroids.iter().copied();
        let Some(mut cur) = iter.next() else {
            return;
        };
        let mut out = Vec::with_capacity(COMPRESSION as usize);
        let mut before = 0.0;
        for c in iter {
            let q_lo = before / n;
            let q_hi = (before + cur.weight + c.weight) / n;
            if k1(q_hi) - k1(q_lo) <= 1.0 {
                let w = cur.weight + c.weight;
                cur.mean += (c.mean - cur.mean) * c.weight / w;
                cur.weight = w;
                self.exact = false;
            } else {
                before += cur.weight;
                out.push(cur);
                cur = c;
            }
        }
        out.push(cur);
        self.centroids = out;
    }

    /// The centroids (after a flush), by mean.
    pub fn centroids(&mut self) -> &[Centroid] {
        self.flush();
        &self.centroids
    }

    /// The nearest-rank `p`-th percentile (`p` in 0..=100): the smallest value with at
    /// least `p`% of the weight at or below it; `None` for an empty digest or a `p` out
    /// of range. Estimated by interpolating between centroids once compressed.
    pub fn percentile(&mut self, p: f64) -> Option<f64> {
        self.flush();
        if self.total <= 0.0 || !(0.0..=100.0).contains(&p) {
            return None;
        }
        if p == 0.0 {
            return Some(self.min);
        }
        if p == 100.0 {
            return Some(self.max);
        }
        let target = p / 100.0 * self.total;
        if self.exact {
            let eps = 1e-9 * self.total.max(1.0);
            let mut cum = 0.0;
            for c in &self.centroids {
                cum += c.weight;
                if cum >= target - eps {
                    return Some(c.mean);
                }
            }
            return Some(self.max);
        }
        let cs = &self.centroids;
        let (first, last) = (cs.first()?, cs.last()?);
        if target <= first.weight / 2.0 {
            return Some(lerp(self.min, first.mean, target / (first.weight / 2.0)));
        }
        let mut cum = 0.0;
        for pair in cs.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            let (ca, cb) = (cum + a.weight / 2.0, cum + a.weight + b.weight / 2.0);
            if target <= cb {
                return Some(lerp(a.mean, b.mean, (target - ca) / (cb - ca)));
            }
            cum += a.weight;
        }
        let c_last = self.total - last.weight / 2.0;
        Some(lerp(
            last.mean,
            self.max,
            (target - c_last) / (self.total - c_last),
        ))
    }

    /// The weight of the values at or below `v` (exact while the digest is, else
    /// interpolated between centroids); `None` for an empty digest.
    pub fn rank(&mut self, v: f64) -> Option<f64> {
        self.flush();
        if self.total <= 0.0 || v.is_nan() {
            return None;
        }
        if v < self.min {
            return Some(0.0);
        }
        if v >= self.max {
            return Some(self.total);
        }
        if self.exact {
            return Some(
                self.centroids
                    .iter()
                    .take_while(|c| c.mean <= v)
                    .map(|c| c.weight)
                    .sum(),
            );
        }
        let cs = &self.centroids;
        let (first, last) = (cs.first()?, cs.last()?);
        if v < first.mean {
            let span = first.mean - self.min;
            let t = if span > 0.0 {
                (v - self.min) / span
            } else {
                1.0
            };
            return Some(lerp(0.0, first.weight / 2.0, t));
        }
        let mut cum = 0.0;
        for pair in cs.windows(2) {
            let (a, b) = (pair[0], pair[1]);
            if v < b.mean {
                let (ca, cb) = (cum + a.weight / 2.0, cum + a.weight + b.weight / 2.0);
                return Some(lerp(ca, cb, (v - a.mean) / (b.mean - a.mean)));
            }
            cum += a.weight;
        }
        let c_last = self.total - last.weight / 2.0;
        let span = self.max - last.mean;
        let t = if span > 0.0 {
            (v - last.mean) / span
        } else {
            1.0
        };
        Some(lerp(c_last, self.total, t))
    }

    /// The digest as a `dynamic` JSON value.
    pub fn to_json(&mut self) -> Value {
        self.flush();
        let integral = self.kind.integral();
        let mut header = vec![Value::from(self.kind.code())];
        if !self.exact {
            header.push(number_json(self.min, integral));
            header.push(number_json(self.max, integral));
        }
        let means = self
            .centroids
            .iter()
            .map(|c| number_json(c.mean, integral))
            .collect();
        let weights = self
            .centroids
            .iter()
            .map(|c| number_json(c.weight, true))
            .collect();
        Value::Array(vec![
            Value::Array(header),
            Value::Array(means),
            Value::Array(weights),
        ])
    }

    /// Reads a digest written by [`TDigest::to_json`] (or an exact one of Kusto's);
    /// `None` when `v` is not one.
    pub fn from_json(v: &Value) -> Option<TDigest> {
        let Value::Array(parts) = v else {
            return None;
        };
        let [
            Value::Array(header),
            Value::Array(means),
            Value::Array(weights),
        ] = parts.as_slice()
        else {
            return None;
        };
        if means.len() != weights.len() {
            return None;
        }
        let kind = ValueKind::from_code(header.first()?.as_i64()?);
        let mut d = TDigest::new(kind);
        for (m, w) in means.iter().zip(weights) {
            let (m, w) = (m.as_f64()?, w.as_f64()?);
            if !m.is_finite() || !w.is_finite() || w <= 0.0 {
                return None;
            }
            d.min = d.min.min(m);
            d.max = d.max.max(m);
            d.total += w;
            d.buffer.push(Centroid { mean: m, weight: w });
        }
        match header.as_slice() {
            [_] => {}
            [_, min, max] => {
                d.exact = false;
                d.min = d.min.min(min.as_f64()?);
                d.max = d.max.max(max.as_f64()?);
            }
            _ => return None,
        }
        d.flush();
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn digest(values: impl IntoIterator<Item = f64>) -> TDigest {
        let mut d = TDigest::new(ValueKind::Real);
        for v in values {
            d.add(v, 1.0);
        }
        d
    }

    #[test]
    fn small_inputs_are_exact_nearest_rank() {
        // 1..5: the 50th percentile is the 3rd value (ceil(2.5)); 1..4: the 2nd.
        let mut d = digest((1..=5).map(f64::from));
        assert_eq!(d.percentile(50.0), Some(3.0));
        assert_eq!(d.percentile(20.0), Some(1.0));
        assert_eq!(d.percentile(20.1), Some(2.0));
        assert_eq!(d.percentile(0.0), Some(1.0));
        assert_eq!(d.percentile(100.0), Some(5.0));
        assert_eq!(d.percentile(100.5), None);
        let mut d = digest((1..=4).map(f64::from));
        assert_eq!(d.percentile(50.0), Some(2.0));
        assert_eq!(d.percentile(75.0), Some(3.0));
        // Ranks count the values at or below.
        assert_eq!(d.rank(2.0), Some(2.0));
        assert_eq!(d.rank(2.5), Some(2.0));
        assert_eq!(d.rank(0.0), Some(0.0));
        assert_eq!(d.rank(9.0), Some(4.0));
        assert!(d.is_exact());
        assert_eq!(TDigest::new(ValueKind::Long).percentile(50.0), None);
    }

    #[test]
    fn weights_and_duplicates() {
        // Kusto's percentilew example shape: 1 x1, 2 x3, 3 x1 → p50 is 2, p80 is 2.
        let mut d = TDigest::new(ValueKind::Long);
        d.add(1.0, 1.0);
        d.add(2.0, 3.0);
        d.add(3.0, 1.0);
        d.add(2.0, 0.0);
        d.add(f64::NAN, 1.0);
        assert_eq!(d.total(), 5.0);
        assert_eq!(d.percentile(50.0), Some(2.0));
        assert_eq!(d.percentile(80.0), Some(2.0));
        assert_eq!(d.percentile(81.0), Some(3.0));
        assert_eq!(d.centroids().len(), 3);
        assert_eq!(d.to_json(), serde_json::json!([[7], [1, 2, 3], [1, 3, 1]]));
    }

    #[test]
    fn docs_rank_example_is_exact() {
        // range x from 1 to 1000: the rank of 685 is 685.
        let mut d = digest((1..=1000).map(f64::from));
        assert_eq!(d.rank(685.0), Some(685.0));
        assert_eq!(d.percentile(68.5), Some(685.0));
    }

    #[test]
    fn large_inputs_within_one_percent_of_rank() {
        // 200,000 values in a scrambled order (a multiplicative permutation), then sorted.
        let n = 200_000u64;
        for step in [7_919, 1] {
            let mut d = TDigest::new(ValueKind::Real);
            for i in 0..n {
                d.add(((i * step) % n) as f64, 1.0);
            }
            check_ranks(&mut d, n);
        }
    }

    fn check_ranks(d: &mut TDigest, n: u64) {
        assert!(!d.is_exact());
        assert!(d.centroids().len() <= MAX_CENTROIDS);
        for p in [1.0, 10.0, 25.0, 50.0, 75.0, 90.0, 99.0, 99.9] {
            let v = d.percentile(p).expect("percentile");
            let true_rank = (v.floor() + 1.0) / n as f64 * 100.0;
            assert!(
                (true_rank - p).abs() < 1.0,
                "p{p}: {v} has rank {true_rank}"
            );
        }
        assert_eq!(d.percentile(0.0), Some(0.0));
        assert_eq!(d.percentile(100.0), Some((n - 1) as f64));
        for v in [1_000.0, 50_000.0, 123_456.0, 199_000.0] {
            let r = d.rank(v).expect("rank");
            let want = v + 1.0;
            assert!((r - want).abs() / (n as f64) < 0.01, "rank {v}: {r}");
        }
    }

    #[test]
    fn json_round_trip_and_merge() {
        let mut a = digest((0..3000).map(f64::from));
        let back = TDigest::from_json(&a.to_json()).expect("round trip");
        let mut back = back;
        assert_eq!(back.percentile(50.0), a.percentile(50.0));
        assert_eq!(back.percentile(0.0), Some(0.0));
        assert_eq!(back.percentile(100.0), Some(2999.0));
        // Kusto's exact form, unsorted.
        let k: Value = serde_json::from_str("[[7],[800,250,0],[5,1,3]]").expect("json");
        let mut kd = TDigest::from_json(&k).expect("kusto digest");
        assert_eq!(kd.kind(), ValueKind::Long);
        // Sorted: 0 x3, 250 x1, 800 x5 (9 in all): 40% is 3.6 values, 50% 4.5.
        assert_eq!(kd.percentile(40.0), Some(250.0));
        assert_eq!(kd.percentile(50.0), Some(800.0));
        assert_eq!(kd.rank(250.0), Some(4.0));
        assert!(TDigest::from_json(&serde_json::json!([[7], [1], []])).is_none());
        assert!(TDigest::from_json(&serde_json::json!("x")).is_none());
        // Merging keeps exactness while small and widens numeric types.
        let mut m = TDigest::new(ValueKind::Int);
        m.add(1.0, 1.0);
        let mut l = TDigest::new(ValueKind::Long);
        l.add(2.0, 1.0);
        assert!(m.merge(&l));
        assert_eq!(m.kind(), ValueKind::Long);
        assert!(m.is_exact());
        assert_eq!(m.percentile(100.0), Some(2.0));
        assert!(!m.merge(&TDigest::new(ValueKind::DateTime)));
    }

    #[test]
    fn values_as_dynamic() {
        assert_eq!(ValueKind::Long.to_json(2.6), Value::from(3));
        assert_eq!(ValueKind::Real.to_json(2.5), serde_json::json!(2.5));
        assert_eq!(
            ValueKind::DateTime.to_json(86_400e9),
            Value::String("1970-01-02T00:00:00.0000000Z".into())
        );
        assert_eq!(
            ValueKind::TimeSpan.to_json(90e9),
            Value::String("00:01:30".into())
        );
    }
}
