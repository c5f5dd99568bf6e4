//! Fuzz target: digest parsing never panics, and an accepted digest is the input itself, split
//! consistently into algorithm and encoded part.
#![no_main]

use proto::oci::Digest;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = core::str::from_utf8(data) else {
        return;
    };
    let Ok(digest) = Digest::parse(text) else {
        return;
    };
    assert_eq!(digest.as_str(), text);
    assert_eq!(digest.encoded().len(), digest.algorithm().encoded_len());
    assert_eq!(
        format!("{}:{}", digest.algorithm().name(), digest.encoded()),
        text
    );
    assert_eq!(Digest::parse(&digest.to_string()), Ok(digest));
});
