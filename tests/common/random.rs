//! A small seeded generator for the tests that draw sizes, operations, moments and bytes
//! (the crash and soak tests): xorshift64*, repeatable from its seed.

/// xorshift64*: small, seeded, good enough to pick sizes, operations and moments.
#[derive(Clone, Debug)]
pub struct Random(pub u64);

impl Random {
    pub fn next(&mut self) -> u64 {
        assert_ne!(
            self.0, 0,
            "xorshift never leaves 0: seed with an odd number"
        );
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        assert!(bound > 0);
        self.next() % bound
    }

    /// A number in `low..high`.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        assert!(low < high);
        low + self.below(high - low)
    }

    /// `length` random bytes.
    pub fn bytes(&mut self, length: usize) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(length + 8);
        while bytes.len() < length {
            bytes.extend_from_slice(&self.next().to_le_bytes());
        }
        bytes.truncate(length);
        bytes
    }

    /// Between 1 and `maximum` random bytes.
    pub fn some_bytes(&mut self, maximum: u64) -> Vec<u8> {
        let length = 1 + self.below(maximum) as usize;
        self.bytes(length)
    }
}
