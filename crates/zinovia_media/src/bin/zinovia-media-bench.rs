//! Makes, for every photo in a folder, what `bench/variants_bench.py` makes (2048, 960 and
//! 320 long edge, each as WebP q80 m4 and baseline JPEG q82 4:2:0 with optimised Huffman
//! tables, orientation applied, metadata stripped, plus a 4×3 blurhash) and writes
//! `<stem>_<size>.<webp|jpg>`, so the harness can time it beside its anchors:
//!
//!   python3 bench/variants_bench.py --external \
//!     'ours=target/release/zinovia-media-bench --images {images} --out {outdir}'
//!
//! `--mode single` (default): one thread. `--mode variants`: the variants of each photo on
//! two threads (what the worker does). `--mode photos`: two photos in flight.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use zinovia_media::image::{Encoding, SIZES, process};
use zinovia_media::limits::ImageLimits;

fn usage() -> ExitCode {
    eprintln!("usage: zinovia-media-bench --images DIR --out DIR [--mode single|variants|photos]");
    ExitCode::from(2)
}

fn size_of(name: &str) -> &'static str {
    match SIZES
        .iter()
        .find(|s| name.starts_with(s.name))
        .map(|s| s.long_edge)
    {
        Some(2048) => "2048",
        Some(960) => "960",
        _ => "320",
    }
}

fn one(path: &Path, out: &Path, enc: Encoding) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let p = process(&bytes, &ImageLimits::default(), enc)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
    for v in &p.variants {
        let ext = if v.content_type == "image/webp" {
            "webp"
        } else {
            "jpg"
        };
        let file = out.join(format!("{stem}_{}.{ext}", size_of(&v.name)));
        std::fs::write(&file, &v.bytes).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    std::hint::black_box(&p.blurhash);
    if std::env::var_os("ZINOVIA_BENCH_STAGES").is_some() {
        let t = p.timings;
        eprintln!(
            "{stem}: decode {:.3}s resize {:.3}s encode {:.3}s",
            t.decode.as_secs_f64(),
            t.resize.as_secs_f64(),
            t.encode.as_secs_f64()
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let (Some(images), Some(out)) = (get("--images"), get("--out")) else {
        return usage();
    };
    let mode = get("--mode").unwrap_or_else(|| "single".into());
    let out = PathBuf::from(out);
    let mut photos: Vec<PathBuf> = match std::fs::read_dir(&images) {
        Ok(rd) => rd
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                    matches!(
                        e.to_ascii_lowercase().as_str(),
                        "jpg" | "jpeg" | "png" | "webp"
                    )
                })
            })
            .collect(),
        Err(e) => {
            eprintln!("{images}: {e}");
            return ExitCode::FAILURE;
        }
    };
    photos.sort();
    // As the worker does.
    zinovia_media::keep_freed_image_memory();
    if mode != "single" {
        // The harness pins itself to one CPU and children inherit that; the two-thread
        // modes are about using every core, so undo it.
        let mut all = nix::sched::CpuSet::new();
        // (available_parallelism reports the pinned set, so ask for every possible CPU;
        // the kernel keeps the ones that exist.)
        for cpu in 0..nix::sched::CpuSet::count() {
            let _ = all.set(cpu);
        }
        if let Err(e) = nix::sched::sched_setaffinity(nix::unistd::Pid::from_raw(0), &all) {
            eprintln!("could not widen the CPU affinity: {e}");
        }
    }
    let enc = Encoding {
        parallel: mode == "variants",
        ..Encoding::default()
    };
    let result: Result<(), String> = if mode == "photos" {
        // Two photos in flight: each thread takes the next photo, largest first, so the
        // two finish together.
        photos.sort_by_key(|p| std::cmp::Reverse(std::fs::metadata(p).map_or(0, |m| m.len())));
        let next = std::sync::atomic::AtomicUsize::new(0);
        let work = || -> Result<(), String> {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(p) = photos.get(i) else {
                    return Ok(());
                };
                one(p, &out, enc)?;
            }
        };
        std::thread::scope(|s| {
            let other = s.spawn(work);
            let mine = work();
            mine.and(
                other
                    .join()
                    .unwrap_or_else(|_| Err("a thread panicked".into())),
            )
        })
    } else if matches!(mode.as_str(), "single" | "variants") {
        photos.iter().try_for_each(|p| one(p, &out, enc))
    } else {
        return usage();
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
