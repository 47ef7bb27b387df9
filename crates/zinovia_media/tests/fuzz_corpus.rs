//! Replays the fuzz corpus (`fuzz/corpus/probe_decode`, seeds and what libFuzzer kept) through
//! the worker's entry point: nothing may panic, every valid seed must make variants, and
//! every broken one (`seed-truncated*`, `seed-bomb*`, and `crash-*`: inputs that once
//! crashed it) must be rejected with a reason. HEIC/AVIF seeds (`seed-heif*`) make
//! variants with the `heif` feature and are refused with the reason without it.

use zinovia_media::MediaError;
use zinovia_media::image::{Encoding, process};
use zinovia_media::limits::ImageLimits;

#[test]
fn the_fuzz_corpus_never_panics_and_seeds_behave() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/probe_decode");
    let limits = ImageLimits {
        max_width: 2048,
        max_height: 2048,
        max_pixels: 1_000_000,
    };
    let enc = Encoding {
        parallel: false,
        ..Encoding::default()
    };
    let mut files = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).unwrap();
        let _ = zinovia_media::formats::describe_foreign(&bytes);
        let result = process(&bytes, &limits, enc);
        if name.starts_with("seed-truncated")
            || name.starts_with("seed-bomb")
            || name.starts_with("crash-")
        {
            assert!(
                matches!(result, Err(MediaError::Rejected(_))),
                "{name}: {result:?}"
            );
        } else if name.starts_with("seed-heif") && !zinovia_media::image::DECODES_HEIF {
            // HEIC/AVIF seeds, in a build without the `heif` feature: refused with why.
            assert_eq!(
                result.err(),
                Some(MediaError::Rejected(zinovia_media::image::NO_HEIF.into())),
                "{name}"
            );
        } else if name.starts_with("seed") {
            let p = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(p.variants.len(), 6, "{name}");
        }
        files += 1;
    }
    assert!(
        files >= 16,
        "the corpus is missing ({files} files in {})",
        dir.display()
    );
}
