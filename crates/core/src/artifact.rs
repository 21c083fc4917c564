//! A trial's artifact on its way to a store: its bytes whole, or already lz4-compressed in
//! blocks as they were encoded.
//!
//! A bag of fold models is compressed while its models are encoded (a forest tree by tree), so
//! the bag never exists whole in memory unless something asks for it: the stores write the
//! blocks as they are. Unpacking a deep forest's bag (125 MB on diamonds) only to compress it
//! again in one piece was most of a 60 s search's memory peak.

/// An artifact's bytes: whole, or lz4 blocks of them.
#[derive(Debug, Clone, PartialEq)]
pub enum Artifact {
    /// The bytes themselves.
    Raw(Vec<u8>),
    /// The bytes compressed in blocks.
    Blocks(Blocks),
}

/// Bytes as a sequence of lz4 blocks (each compressed on its own), in order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Blocks {
    /// Raw length of all blocks.
    len: usize,
    /// Raw length and lz4 block of each block.
    blocks: Vec<(usize, Vec<u8>)>,
}

impl Blocks {
    /// No bytes yet.
    pub fn new() -> Blocks {
        Blocks::default()
    }

    /// Compress `raw` as the next block (nothing for empty bytes).
    pub fn push_raw(&mut self, raw: &[u8]) {
        if raw.is_empty() {
            return;
        }
        let mut packed = lz4_flex::block::compress(raw);
        packed.shrink_to_fit();
        self.push_packed(raw.len(), packed);
    }

    /// Append a block already compressed (`packed`, lz4 of `raw_len` bytes).
    pub fn push_packed(&mut self, raw_len: usize, packed: Vec<u8>) {
        self.len += raw_len;
        self.blocks.push((raw_len, packed));
    }

    /// Raw length of all blocks.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of blocks.
    pub fn n_blocks(&self) -> usize {
        self.blocks.len()
    }

    /// Compressed bytes of all blocks.
    pub fn packed_len(&self) -> usize {
        self.blocks.iter().map(|(_, b)| b.len()).sum()
    }

    /// The blocks, in order: (raw length, lz4 block).
    pub fn into_blocks(self) -> Vec<(usize, Vec<u8>)> {
        self.blocks
    }

    /// The blocks, in order, borrowed: (raw length, lz4 block).
    pub fn blocks(&self) -> &[(usize, Vec<u8>)] {
        &self.blocks
    }

    /// Blocks read from outside (a remote worker's result), checked: each must decompress to
    /// exactly its raw length, which may not exceed what lz4 can expand its packed bytes to
    /// (so a damaged length cannot ask for a huge buffer). Each block is decompressed into one
    /// scratch buffer of the largest block's size, never into the whole.
    pub fn from_checked(blocks: Vec<(usize, Vec<u8>)>) -> Result<Blocks, String> {
        let mut out = Blocks::new();
        let mut scratch = Vec::new();
        for (i, (len, packed)) in blocks.into_iter().enumerate() {
            if len == 0 || len > LZ4_MAX_RATIO.saturating_mul(packed.len()) {
                return Err(format!(
                    "block {i} claims {len} raw bytes from {} packed bytes",
                    packed.len()
                ));
            }
            scratch.clear();
            unpack_block(len, &packed, &mut scratch).map_err(|e| format!("block {i}: {e}"))?;
            out.push_packed(len, packed);
        }
        Ok(out)
    }

    /// Decompress onto the end of `out`, freeing each block as it goes.
    pub fn unpack_into(self, out: &mut Vec<u8>) -> Result<(), String> {
        out.reserve_exact(self.len);
        for (len, packed) in self.blocks {
            unpack_block(len, &packed, out)?;
        }
        Ok(())
    }
}

/// lz4 expands a block at most about 255 times (a run of one byte costs a byte per 255).
const LZ4_MAX_RATIO: usize = 256;

/// Decompress one block (`len` raw bytes) onto the end of `out`.
fn unpack_block(len: usize, packed: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    let at = out.len();
    out.resize(at + len, 0);
    let n = lz4_flex::block::decompress_into(packed, &mut out[at..])
        .map_err(|e| format!("an lz4 block: {e}"))?;
    if n != len {
        return Err(format!("an lz4 block decompressed to {n} bytes, not {len}"));
    }
    Ok(())
}

impl Artifact {
    /// Raw length in bytes.
    pub fn len(&self) -> usize {
        match self {
            Artifact::Raw(b) => b.len(),
            Artifact::Blocks(b) => b.len(),
        }
    }

    /// Whether it holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes whole (blocks are decompressed, each freed as it goes).
    pub fn into_raw(self) -> Result<Vec<u8>, String> {
        match self {
            Artifact::Raw(b) => Ok(b),
            Artifact::Blocks(b) => {
                let mut out = Vec::new();
                b.unpack_into(&mut out)?;
                Ok(out)
            }
        }
    }
}

impl Artifact {
    /// A copy of the bytes whole.
    pub fn to_raw(&self) -> Result<Vec<u8>, String> {
        match self {
            Artifact::Raw(b) => Ok(b.clone()),
            Artifact::Blocks(b) => {
                let mut out = Vec::with_capacity(b.len);
                for (len, packed) in &b.blocks {
                    unpack_block(*len, packed, &mut out)?;
                }
                Ok(out)
            }
        }
    }
}

impl From<Vec<u8>> for Artifact {
    fn from(raw: Vec<u8>) -> Artifact {
        Artifact::Raw(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_unpack_to_the_bytes_pushed() {
        let raw: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut b = Blocks::new();
        b.push_raw(&raw[..10]);
        b.push_raw(&[]);
        b.push_raw(&raw[10..4000]);
        b.push_packed(6000, lz4_flex::block::compress(&raw[4000..]));
        assert_eq!(b.len(), raw.len());
        assert!(b.packed_len() < raw.len());
        let a = Artifact::Blocks(b.clone());
        assert_eq!(a.len(), raw.len());
        assert_eq!(a.to_raw().unwrap(), raw);
        assert_eq!(a.into_raw().unwrap(), raw);
        assert_eq!(Artifact::from(raw.clone()).into_raw().unwrap(), raw);
        // A block that lies about its length is an error, not a panic.
        let mut bad = Blocks::new();
        bad.push_packed(11, lz4_flex::block::compress(&raw[..10]));
        assert!(Artifact::Blocks(bad.clone()).to_raw().is_err());
        assert!(Artifact::Blocks(bad).into_raw().is_err());
    }

    #[test]
    fn blocks_from_outside_are_checked_before_they_are_kept() {
        let raw: Vec<u8> = (0..50_000u32).map(|i| (i / 100 % 7) as u8).collect();
        let mut b = Blocks::new();
        b.push_raw(&raw[..20_000]);
        b.push_raw(&raw[20_000..]);
        let back = Blocks::from_checked(b.blocks().to_vec()).unwrap();
        assert_eq!(back, b);
        assert_eq!(Artifact::Blocks(back).into_raw().unwrap(), raw);
        let blocks = b.into_blocks();
        // A wrong raw length, a damaged block, an empty one, an absurd length: errors.
        let mut wrong = blocks.clone();
        wrong[1].0 += 1;
        assert!(Blocks::from_checked(wrong).is_err());
        let mut damaged = blocks.clone();
        let last = damaged[0].1.len() - 1;
        damaged[0].1.truncate(last);
        assert!(Blocks::from_checked(damaged).is_err());
        assert!(Blocks::from_checked(vec![(0, Vec::new())]).is_err());
        let huge = Blocks::from_checked(vec![(usize::MAX, blocks[0].1.clone())]).unwrap_err();
        assert!(huge.contains("claims"), "{huge}");
        assert_eq!(Blocks::from_checked(Vec::new()).unwrap(), Blocks::new());
    }
}
