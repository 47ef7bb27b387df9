//! Limits checked from headers before anything is decoded (decompression bombs).

/// What an image may be.
#[derive(Debug, Clone, Copy)]
pub struct ImageLimits {
    /// Widest accepted, in pixels.
    pub max_width: u32,
    /// Tallest accepted, in pixels.
    pub max_height: u32,
    /// Most pixels accepted (width × height).
    pub max_pixels: u64,
}

impl Default for ImageLimits {
    /// pict-rs's defaults: 10,000 × 10,000, 40 megapixels.
    fn default() -> Self {
        ImageLimits {
            max_width: 10_000,
            max_height: 10_000,
            max_pixels: 40_000_000,
        }
    }
}

impl ImageLimits {
    /// `Err(reason)` when the dimensions are over a limit.
    pub fn check(&self, width: u32, height: u32) -> Result<(), String> {
        if width == 0 || height == 0 {
            return Err("the image has no pixels".into());
        }
        if width > self.max_width || height > self.max_height {
            return Err(format!(
                "the image is {width}×{height} pixels; the most accepted is {}×{}",
                self.max_width, self.max_height
            ));
        }
        if u64::from(width) * u64::from(height) > self.max_pixels {
            return Err(format!(
                "the image has {:.1} megapixels; the most accepted is {:.1}",
                f64::from(width) * f64::from(height) / 1e6,
                self.max_pixels as f64 / 1e6
            ));
        }
        Ok(())
    }
}

/// What a video may be.
#[derive(Debug, Clone, Copy)]
pub struct VideoLimits {
    /// Widest accepted, in pixels.
    pub max_width: u32,
    /// Tallest accepted, in pixels.
    pub max_height: u32,
    /// Longest accepted, in seconds.
    pub max_seconds: f64,
    /// Highest frame rate accepted.
    pub max_fps: f64,
    /// Highest bit rate accepted, bits per second.
    pub max_bit_rate: u64,
}

impl Default for VideoLimits {
    /// 4K, one hour, 240 frames a second, 1 Gbit/s.
    fn default() -> Self {
        VideoLimits {
            max_width: 3840,
            max_height: 3840,
            max_seconds: 3600.0,
            max_fps: 240.0,
            max_bit_rate: 1_000_000_000,
        }
    }
}

impl VideoLimits {
    /// `Err(reason)` when a probed video is over a limit.
    pub fn check_video(&self, info: &crate::video::VideoInfo) -> Result<(), String> {
        self.check(info.width, info.height, info.duration)?;
        if info.fps > self.max_fps + 0.5 {
            return Err(format!(
                "the video has {:.0} frames a second; the most accepted is {:.0}",
                info.fps, self.max_fps
            ));
        }
        if let Some(rate) = info.bit_rate.filter(|r| *r > self.max_bit_rate) {
            return Err(format!(
                "the video's bit rate is {} Mbit/s; the most accepted is {} Mbit/s",
                rate / 1_000_000,
                self.max_bit_rate / 1_000_000
            ));
        }
        Ok(())
    }

    /// `Err(reason)` when the dimensions or length are over a limit.
    pub fn check(&self, width: u32, height: u32, seconds: f64) -> Result<(), String> {
        if width == 0 || height == 0 {
            return Err("the video has no picture".into());
        }
        if width > self.max_width || height > self.max_height {
            return Err(format!(
                "the video is {width}×{height}; the most accepted is {}×{}",
                self.max_width, self.max_height
            ));
        }
        if !(seconds.is_finite() && seconds > 0.0) {
            return Err("the video's length cannot be read".into());
        }
        if seconds > self.max_seconds {
            return Err(format!(
                "the video is {seconds:.0} s long; the most accepted is {:.0} s",
                self.max_seconds
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bombs_are_refused_from_their_dimensions() {
        let l = ImageLimits::default();
        assert!(l.check(4000, 3000).is_ok());
        assert!(
            l.check(100_000, 100_000)
                .unwrap_err()
                .contains("100000×100000")
        );
        assert!(l.check(9000, 9000).unwrap_err().contains("megapixels"));
        assert!(l.check(0, 10).is_err());
        let v = VideoLimits::default();
        assert!(v.check(1920, 1080, 60.0).is_ok());
        assert!(v.check(8000, 8000, 5.0).is_err());
        assert!(v.check(1920, 1080, 7200.0).is_err());
        assert!(v.check(1920, 1080, f64::NAN).is_err());
        let mut info = crate::video::VideoInfo {
            width: 1920,
            height: 1080,
            duration: 10.0,
            video_codec: "h264".into(),
            has_audio: true,
            fps: 240.0,
            rotation: 0,
            color_transfer: None,
            bit_rate: Some(50_000_000),
        };
        assert!(v.check_video(&info).is_ok());
        info.fps = 480.0;
        assert!(v.check_video(&info).unwrap_err().contains("480 frames"));
        info.fps = 30.0;
        info.bit_rate = Some(2_000_000_000);
        assert!(v.check_video(&info).unwrap_err().contains("2000 Mbit/s"));
    }
}
