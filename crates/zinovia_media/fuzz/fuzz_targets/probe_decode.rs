//! The worker's entry point for untrusted bytes: format recognition, header limits, EXIF,
//! decoding and every variant. Any panic, crash or sanitizer report is a bug; `Rejected`
//! is the expected answer to garbage.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zinovia_media::image::{Encoding, process};
use zinovia_media::limits::ImageLimits;

fuzz_target!(|data: &[u8]| {
    let _ = zinovia_media::formats::describe_foreign(data);
    if zinovia_media::sniff(data).is_some_and(|f| !f.is_video()) {
        // Small limits keep each run fast; the checks are the same at any size.
        let limits = ImageLimits {
            max_width: 2048,
            max_height: 2048,
            max_pixels: 1_000_000,
        };
        let enc = Encoding {
            parallel: false,
            ..Encoding::default()
        };
        let _ = process(data, &limits, enc);
    }
});
