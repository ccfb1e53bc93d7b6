//! What the benchmarks share: the questions they ask, and how their answers' times are read.

use std::time::Duration;

/// A deterministic sequence, so every run (and every backend) is asked the same questions.
pub struct Picks(pub u64);

impl Picks {
    pub fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// The `p` percentile of `sorted`, in ms.
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}
