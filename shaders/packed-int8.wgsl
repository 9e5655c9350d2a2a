// Lanes of packed int8 words (four values a u32, little-endian), included by the shaders that
// read and write packed int8 tensors word by word (src/kernels/shaders.ts).

// The signed int8 in lane k (0..3) of a word.
fn lane(word: u32, k: u32) -> i32 {
  return extractBits(bitcast<i32>(word), k * 8u, 8u);
}

// The word with v's low byte ORed into lane k (the lane must be zero).
fn put(word: u32, k: u32, v: i32) -> u32 {
  return word | ((bitcast<u32>(v) & 0xffu) << (k * 8u));
}
