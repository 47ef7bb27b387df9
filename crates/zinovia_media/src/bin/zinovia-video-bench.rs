//! Times one transcode of a video as the worker makes it (the HLS ladder, the progressive
//! MP4 and the storyboard), in one decode pass or one pass per rendition, and prints one
//! JSON line: seconds, the video's length, the real-time factor and the renditions.
//!
//!   zinovia-video-bench --input FILE --out DIR [--preset veryfast] [--mode one-pass|per-rendition]
//!
//! `scripts/bench-video` runs it side by side and adds the quality figures.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use zinovia_media::transcode::{Options, plan};
use zinovia_media::video::Tools;

fn usage() -> ExitCode {
    eprintln!(
        "usage: zinovia-video-bench --input FILE --out DIR [--preset P] [--mode one-pass|per-rendition]"
    );
    ExitCode::from(2)
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut input = None;
    let mut out = None;
    let mut preset = "veryfast".to_owned();
    let mut one_pass = true;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--input", Some(v)) => input = Some(PathBuf::from(v)),
            ("--out", Some(v)) => out = Some(PathBuf::from(v)),
            ("--preset", Some(v)) => preset = v,
            ("--mode", Some(v)) if v == "one-pass" => one_pass = true,
            ("--mode", Some(v)) if v == "per-rendition" => one_pass = false,
            _ => return usage(),
        }
    }
    let (Some(input), Some(out)) = (input, out) else {
        return usage();
    };
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let tools = Tools::new("ffmpeg", "ffprobe", Duration::from_secs(3600), cores.max(2));
    let info = match tools.probe(&input).await {
        Ok(i) => i,
        Err(e) => {
            eprintln!("{}: {e}", input.display());
            return ExitCode::FAILURE;
        }
    };
    let opts = Options {
        preset: preset.clone(),
        one_pass,
        ..Options::default()
    };
    let plan = plan(&info, &opts);
    let _ = std::fs::remove_dir_all(&out);
    let started = Instant::now();
    let made = tools
        .transcode(&input, &out, &plan, &opts, Some([7; 16]), &|_| {})
        .await;
    let seconds = started.elapsed().as_secs_f64();
    match made {
        Ok(made) => {
            let renditions: Vec<String> = made
                .renditions
                .iter()
                .map(|r| {
                    format!(
                        "{{\"name\":\"{}\",\"bandwidth\":{},\"average_bandwidth\":{}}}",
                        r.rendition.name, r.bandwidth, r.average_bandwidth
                    )
                })
                .collect();
            println!(
                "{{\"mode\":\"{}\",\"preset\":\"{preset}\",\"seconds\":{seconds:.2},\"duration\":{:.2},\"realtime\":{:.3},\"files\":{},\"renditions\":[{}]}}",
                if one_pass {
                    "one-pass"
                } else {
                    "per-rendition"
                },
                info.duration,
                info.duration / seconds,
                made.files.len(),
                renditions.join(",")
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("transcode failed: {e}");
            ExitCode::FAILURE
        }
    }
}
